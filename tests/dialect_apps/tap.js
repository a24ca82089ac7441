'use strict';
// Recording WebSocket man-in-the-middle (ws 8 + node http), used to produce
// tests/fixtures/dialects/*.jsonl from real client/server pairs.
//
//   node tap.js --target http://127.0.0.1:PORT --out FILE.jsonl --source "TEXT" [--record-http]
//
// Listens on 127.0.0.1:0 and prints `listening on http://127.0.0.1:PORT`. WebSocket upgrades
// are forwarded to the target (same path+query, same offered subprotocols, the target's chosen
// subprotocol is passed back); permessage-deflate is refused on both legs so frames stay
// readable. Plain HTTP requests (socket.io long-polling, REST) are forwarded too.
// Output (JSON Lines, appended to FILE):
//   per WebSocket connection, written when it closes (or when the tap stops):
//     {"source": TEXT, "uri": "<upgrade path+query>", "subprotocol": "<chosen>"|null}
//     {"dir":"client_to_upstream"|"upstream_to_client","opcode":"text","text":"..."}
//     {"dir":...,"opcode":"binary","base64":"..."}
//   with --record-http, per HTTP exchange, written when the response ends:
//     {"method":"GET"|"POST",...,"uri":"...","request_body":"...","response_body":"..."}
//     (Accept-Encoding is dropped from forwarded requests so bodies are plain text.)
// Ping/pong/close control frames are not recorded (ws answers pings on each leg itself).
// SIGTERM/SIGINT: flush connections still open, exit 0.
const fs = require('fs');
const http = require('http');
const { isUtf8 } = require('buffer');
const { WebSocket, WebSocketServer } = require('ws');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
}
const target = arg('--target');
const out = arg('--out');
const source = arg('--source', 'unknown');
const recordHttp = process.argv.includes('--record-http');
if (!target || !out) {
  process.stderr.write('usage: tap.js --target http://127.0.0.1:PORT --out FILE.jsonl --source TEXT [--record-http]\n');
  process.exit(2);
}
const targetUrl = new URL(target);

const write = (lines) => fs.appendFileSync(out, lines.map((l) => JSON.stringify(l) + '\n').join(''));

const open = new Set(); // connection records not yet written
function flush(rec) {
  if (!open.has(rec)) return;
  open.delete(rec);
  write(rec.lines);
}

function frameLine(dir, data, isBinary) {
  const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  return isBinary ? { dir, opcode: 'binary', base64: buf.toString('base64') } : { dir, opcode: 'text', text: buf.toString('utf8') };
}

// Headers worth passing to the target on an upgrade (ws sets its own handshake headers).
function forwardHeaders(req) {
  const h = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (/^(host|connection|upgrade|sec-websocket-(key|version|extensions|protocol))$/i.test(k)) continue;
    h[k] = v;
  }
  return h;
}

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  handleProtocols: (protocols, req) => req.tapChosenProtocol || false,
});

const server = http.createServer((req, res) => {
  const headers = { ...req.headers, host: targetUrl.host };
  if (recordHttp) delete headers['accept-encoding'];
  const reqChunks = [];
  const resChunks = [];
  const up = http.request({ host: targetUrl.hostname, port: targetUrl.port, method: req.method, path: req.url, headers }, (ures) => {
    res.writeHead(ures.statusCode, ures.statusMessage, ures.rawHeaders);
    ures.on('data', (c) => { resChunks.push(c); res.write(c); });
    ures.on('end', () => {
      res.end();
      if (!recordHttp) return;
      const body = (chunks, key) => {
        const b = Buffer.concat(chunks);
        return isUtf8(b) ? { [key]: b.toString('utf8') } : { [`${key}_base64`]: b.toString('base64') };
      };
      write([{ method: req.method, uri: req.url, status: ures.statusCode, ...body(reqChunks, 'request_body'), ...body(resChunks, 'response_body') }]);
    });
  });
  up.on('error', (e) => { res.writeHead(502, { 'content-type': 'text/plain' }); res.end(`tap: upstream error ${e.message}\n`); });
  req.on('data', (c) => { reqChunks.push(c); up.write(c); });
  req.on('end', () => up.end());
});

server.on('upgrade', (req, socket, head) => {
  const offered = (req.headers['sec-websocket-protocol'] || '').split(',').map((s) => s.trim()).filter(Boolean);
  const upstreamUrl = `ws://${targetUrl.host}${req.url}`;
  const upstream = new WebSocket(upstreamUrl, offered, { perMessageDeflate: false, headers: forwardHeaders(req) });
  const rec = { lines: [], queued: [] };
  let client = null;
  socket.on('error', () => {});

  upstream.on('unexpected-response', (ureq, ures) => {
    const chunks = [];
    ures.on('data', (c) => chunks.push(c));
    ures.on('end', () => {
      const body = Buffer.concat(chunks);
      let head = `HTTP/1.1 ${ures.statusCode} ${ures.statusMessage}\r\n`;
      for (let i = 0; i < ures.rawHeaders.length; i += 2) {
        if (/^(connection|transfer-encoding|content-length)$/i.test(ures.rawHeaders[i])) continue;
        head += `${ures.rawHeaders[i]}: ${ures.rawHeaders[i + 1]}\r\n`;
      }
      socket.end(Buffer.concat([Buffer.from(`${head}content-length: ${body.length}\r\nconnection: close\r\n\r\n`), body]));
    });
  });
  upstream.on('error', (e) => {
    if (!client) {
      if (socket.writable) socket.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\ntap: upstream ${e.message}\n`);
    } else if (client.readyState === WebSocket.OPEN) client.terminate();
  });
  upstream.on('message', (data, isBinary) => {
    rec.lines.push(frameLine('upstream_to_client', data, isBinary));
    if (client) client.send(data, { binary: isBinary });
    else rec.queued.push([data, isBinary]);
  });
  upstream.on('open', () => {
    req.tapChosenProtocol = upstream.protocol || false;
    rec.lines.push({ source, uri: req.url, subprotocol: upstream.protocol || null });
    open.add(rec);
    wss.handleUpgrade(req, socket, head, (ws) => {
      client = ws;
      for (const [d, b] of rec.queued.splice(0)) ws.send(d, { binary: b });
      ws.on('message', (data, isBinary) => {
        rec.lines.push(frameLine('client_to_upstream', data, isBinary));
        if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
      });
      ws.on('close', (code, reason) => {
        if (upstream.readyState === WebSocket.OPEN) {
          if (code >= 1000 && code < 5000 && code !== 1005 && code !== 1006) upstream.close(code, reason);
          else upstream.close();
        }
        if (upstream.readyState === WebSocket.CLOSED) flush(rec);
      });
      ws.on('error', () => {});
    });
  });
  upstream.on('close', (code, reason) => {
    if (client && client.readyState === WebSocket.OPEN) {
      if (code >= 1000 && code < 5000 && code !== 1005 && code !== 1006) client.close(code, reason);
      else client.close();
    }
    if (!client || client.readyState === WebSocket.CLOSED) flush(rec);
    else client.once('close', () => flush(rec));
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
const stop = () => {
  for (const rec of [...open]) flush(rec);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
