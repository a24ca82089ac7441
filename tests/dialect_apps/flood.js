'use strict';
// Clients that flood an echo server, and the echo server, for wsdiag's
// shutdown test (tests/relay.rs). npm `ws` on both sides.
//
//   node flood.js server
//     An echo server (every message back as it came). On SIGINT/SIGTERM it
//     shuts down as a server should: close 1001 "server going away" to every
//     client, then exit once their close handshakes are done (at most 5 s).
//     Prints `listening on http://127.0.0.1:PORT` once ready.
//
//   node flood.js client BASE_URL [--clients 4] [--path /ws] [--ready 200]
//     Opens --clients WebSockets; each sends text messages `c<i>-<n>-…`
//     (80 bytes) as fast as its socket takes them (up to 64 a turn of the
//     event loop while less than 256 KiB wait to be sent) and counts the text
//     messages it receives. Prints `flooding` once every client has received
//     --ready echoes, so the test knows the flood is on; then, once every
//     socket has closed, one JSON line:
//       {"clients": [{client, prefix, sent, received, close: {code, reason}, error}]}
//     where `received` counts the messages this client's `ws` delivered, and
//     `close.code` is 1006 when the socket ended without a close frame.

const http = require('http');
const WebSocket = require('ws');
const { WebSocketServer } = WebSocket;
const { announce, baseUrl, wsUrl, done, watchdog } = require('./common');

const args = process.argv.slice(4);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};

function server() {
  const backend = http.createServer((_, res) => res.end('flood echo server\n'));
  const wss = new WebSocketServer({ server: backend });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(data, { binary: isBinary });
    });
    ws.on('error', () => {});
  });
  backend.listen(0, '127.0.0.1', () => announce(backend));
  const stop = () => {
    const open = [...wss.clients];
    if (open.length === 0) process.exit(0);
    let left = open.length;
    open.forEach((ws) => {
      ws.on('close', () => { left -= 1; if (left === 0) process.exit(0); });
      ws.close(1001, 'server going away');
    });
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function client() {
  const url = wsUrl(baseUrl(process.argv[3]), opt('--path', '/ws'));
  const count = Number(opt('--clients', 4));
  const ready = Number(opt('--ready', 200));
  const wd = watchdog(30000);
  wd.step('every client open and echoed');
  const summaries = [];
  let announced = false;
  let open = count;
  const finish = () => {
    open -= 1;
    if (open === 0) done({ clients: summaries }, wd);
  };
  const checkReady = () => {
    if (!announced && summaries.every((s) => s.received >= ready)) {
      announced = true;
      wd.step('every socket closed');
      process.stdout.write('flooding\n');
    }
  };
  for (let i = 0; i < count; i += 1) {
    const prefix = `c${i}-`;
    const s = { client: i, prefix, sent: 0, received: 0, close: null, error: null };
    summaries.push(s);
    const ws = new WebSocket(url);
    // A batch per turn of the event loop, so that echoes are read between
    // batches (a socket that takes every write at once would otherwise
    // keep this loop to itself).
    const pump = () => {
      for (let n = 0; n < 64 && ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 256 * 1024; n += 1) {
        const head = `${prefix}${s.sent}-`;
        ws.send(head + 'x'.repeat(80 - head.length));
        s.sent += 1;
      }
      if (ws.readyState === WebSocket.OPEN) setImmediate(pump);
    };
    ws.on('open', pump);
    ws.on('message', (_, isBinary) => {
      if (!isBinary) s.received += 1;
      checkReady();
    });
    ws.on('error', (e) => { s.error = e.message; });
    ws.on('close', (code, reason) => {
      s.close = { code, reason: reason.toString() };
      finish();
    });
  }
}

if (process.argv[2] === 'server') server();
else if (process.argv[2] === 'client') client();
else {
  process.stderr.write('usage: node flood.js server | node flood.js client BASE_URL [--clients N] [--path P] [--ready N]\n');
  process.exit(1);
}
