'use strict';
// A WebSocket client (npm `ws`, which fails a handshake as browsers do)
// for wsdiag's lifecycle tests. Usage:
//   node lifecycle_client.js BASE_URL --path /ws/x [--protocol chat.v1]
//        [--send TEXT]... [--send-bytes N] [--before-send-ms N] [--wait-ms N]
//        [--origin ORIGIN] [--close] [--block-ms N] [--close-timeout-ms N]
// --block-ms N busies the event loop for N ms once the socket is open (a
// frontend doing long work on its main thread): pings wait unanswered.
// --close-timeout-ms N: how long `ws` waits for the peer's close frame after
// sending its own (30 s by default) before it drops the connection itself.
// Opens the socket, waits --before-send-ms, sends each message, then waits
// for the close or --wait-ms; prints {opened, protocol, received, pings,
// close: {code, reason}, error} as one JSON line. `pings` counts the pings
// received while open: `ws` answers each with a pong, so it is also the
// number of pongs this client sent.

const WebSocket = require('ws');
const { baseUrl, wsUrl, done, watchdog } = require('./common');

const args = process.argv.slice(3);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const sends = args.flatMap((a, i) => (a === '--send' ? [args[i + 1]] : []));
const bytes = Number(opt('--send-bytes', 0));
if (bytes > 0) sends.push('x'.repeat(bytes));
const beforeSend = Number(opt('--before-send-ms', 0));
const waitMs = Number(opt('--wait-ms', 3000));
const protocol = opt('--protocol', undefined);

const wd = watchdog(waitMs + beforeSend + 10000);
const summary = { opened: false, protocol: null, received: [], pings: 0, close: null, error: null };
const origin = opt('--origin', undefined);
const closeTimeout = opt('--close-timeout-ms', undefined);
const options = {};
if (origin) options.origin = origin;
if (closeTimeout) options.closeTimeout = Number(closeTimeout);
const ws = new WebSocket(wsUrl(baseUrl(process.argv[2]), opt('--path', '/')), protocol ? [protocol] : [], options);
let finished = false;
const finish = () => {
  if (!finished) done(summary, wd);
  finished = true;
};
const giveUp = setTimeout(() => { ws.terminate(); finish(); }, waitMs + beforeSend);
ws.on('open', () => {
  summary.opened = true;
  const block = Number(opt('--block-ms', 0));
  if (block > 0) {
    setTimeout(() => {
      const until = Date.now() + block;
      while (Date.now() < until) { /* the main thread is busy */ }
    }, 400);
  }
  summary.protocol = ws.protocol || null;
  setTimeout(() => {
    sends.forEach((m) => ws.send(m));
    if (args.includes('--close')) ws.close(1000, 'bye');
  }, beforeSend);
});
ws.on('message', (data) => summary.received.push(data.toString().slice(0, 80)));
ws.on('ping', () => { summary.pings += 1; });
ws.on('error', (e) => { summary.error = e.message; });
ws.on('close', (code, reason) => {
  summary.close = { code, reason: reason.toString() };
  clearTimeout(giveUp);
  finish();
});
