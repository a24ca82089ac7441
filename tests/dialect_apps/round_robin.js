'use strict';
// A load balancer without sticky sessions, as a plain nginx `upstream`
// block is: starts two copies of `node socketio_chat.js` and sends each
// HTTP request (and each WebSocket upgrade) to the next copy in turn.
// Prints `listening on http://127.0.0.1:PORT` once both copies are up.

const http = require('http');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');
const { listen } = require('./common');

function startCopy() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'socketio_chat.js')], {
      // The IPC channel closes when this process ends, however it ends
      // (a test's kill is SIGKILL): the copy then exits too.
      stdio: ['ignore', 'pipe', 'ignore', 'ipc'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`socketio_chat.js exited with ${code}`)));
  });
}

async function main() {
  const copies = await Promise.all([startCopy(), startCopy()]);
  let next = 0;
  const pick = () => copies[next++ % copies.length].port;
  const server = http.createServer((req, res) => {
    const upstream = http.request(
      { host: '127.0.0.1', port: pick(), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(upstream);
  });
  server.on('upgrade', (req, socket, head) => {
    const upstream = net.connect(pick(), '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(lines.join('\r\n') + '\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  listen(server, () => copies.forEach((c) => c.child.kill()));
}

main().catch((e) => {
  process.stderr.write(`round_robin.js: ${e.stack || e}\n`);
  process.exit(1);
});
