'use strict';
// A WebSocket server (npm `ws`) that fails in one of the ways real servers
// do, for wsdiag's lifecycle findings (tests/lifecycle.rs). Mode from
// LIFECYCLE_MODE; every mode echoes text messages otherwise.
//   no-subprotocol     accepts the upgrade but chooses no subprotocol,
//                      whatever the client offered
//   other-subprotocol  chooses `chat.v2`, which the client did not offer
//   token-expiry       reads a JWT from `?token=`; a message that arrives
//                      after its `exp` gets close 4001 "token expired"
//   size-limit         a message over 1024 bytes gets close 1009
//                      "message too big: the limit is 1024 bytes"
//   no-close-reply     accepts the upgrade by hand (RFC 6455 section 4.2.2)
//                      and then ignores every frame: it never answers a
//                      close, as a server whose event loop is stuck
//   rsv1               accepts the upgrade by hand with no extension,
//                      then sends a compressed text frame (RSV1 set), as a
//                      server that compresses whatever was negotiated
//   pinger             pings every client every 300 ms (as servers'
//                      keepalives do), and echoes
//   idle-drop          an echo server behind a TCP forwarder that drops
//                      both connections (no close frame) after
//                      LIFECYCLE_IDLE_MS (default 1500) without a byte
//                      either way, as an idle timeout in front of a
//                      backend does; the ready line names the forwarder
// Prints `listening on http://127.0.0.1:PORT` once ready.

const http = require('http');
const net = require('net');
const { WebSocketServer } = require('ws');
const { announce, listen } = require('./common');

const mode = process.env.LIFECYCLE_MODE || 'echo';

function jwtExp(token) {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    return typeof payload.exp === 'number' ? payload.exp : null;
  } catch (_) {
    return null;
  }
}

function websocketServer(server) {
  const options = { server };
  if (mode === 'no-subprotocol') options.handleProtocols = () => false;
  if (mode === 'other-subprotocol') options.handleProtocols = () => 'chat.v2';
  const wss = new WebSocketServer(options);
  wss.on('connection', (ws, req) => {
    const token = new URL(req.url, 'http://x').searchParams.get('token');
    if (mode === 'pinger') {
      let n = 0;
      const timer = setInterval(() => ws.ping(`keepalive-${n++}`), 300);
      ws.on('close', () => clearInterval(timer));
    }
    ws.on('message', (data, isBinary) => {
      if (mode === 'token-expiry' && token && Date.now() / 1000 > jwtExp(token)) {
        ws.close(4001, 'token expired');
        return;
      }
      if (mode === 'size-limit' && data.length > 1024) {
        ws.close(1009, 'message too big: the limit is 1024 bytes');
        return;
      }
      ws.send(data, { binary: isBinary });
    });
  });
}

const backend = http.createServer((_, res) => res.end('lifecycle server\n'));
if (mode === 'no-close-reply' || mode === 'rsv1') {
  // The handshake by hand (RFC 6455 section 4.2.2), no extension agreed.
  backend.on('upgrade', (req, socket) => {
    const accept = require('crypto')
      .createHash('sha1')
      .update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
      .digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.on('error', () => {});
    socket.on('data', () => {});
    if (mode === 'rsv1') {
      const data = require('zlib').deflateRawSync(Buffer.from('hello'));
      // FIN + RSV1 + text, unmasked (a server's frame), short length.
      socket.write(Buffer.concat([Buffer.from([0xc1, data.length]), data]));
    }
  });
} else {
  websocketServer(backend);
}

if (mode !== 'idle-drop') {
  listen(backend);
} else {
  const idleMs = Number(process.env.LIFECYCLE_IDLE_MS || 1500);
  backend.listen(0, '127.0.0.1', () => {
    const target = backend.address().port;
    const forwarder = net.createServer((client) => {
      const upstream = net.connect(target, '127.0.0.1');
      let timer;
      const drop = () => { client.destroy(); upstream.destroy(); };
      const touch = () => { clearTimeout(timer); timer = setTimeout(drop, idleMs); };
      touch();
      client.on('data', (d) => { touch(); upstream.write(d); });
      upstream.on('data', (d) => { touch(); client.write(d); });
      client.on('error', drop);
      upstream.on('error', drop);
      client.on('close', drop);
      upstream.on('close', drop);
    });
    forwarder.listen(0, '127.0.0.1', () => announce(forwarder));
  });
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
