'use strict';
// STOMP over WebSocket: tiny STOMP 1.2 broker (stomp_broker.js, on ws 8) + @stomp/stompjs 7 client.
//   node stomp.js server       -> ws endpoint /stomp (subprotocols v12.stomp, v11.stomp, v10.stomp),
//                                 prints `listening on http://127.0.0.1:PORT`
//   node stomp.js client URL   -> two STOMP sessions (two WebSocket connections):
//     1. CONNECT (login alice, heart-beat 1000,1000) -> SUBSCRIBE /topic/chat ->
//        SEND /app/chat.send {"text":"cc"} receipt:send-1 -> MESSAGE + RECEIPT ->
//        waits until heart-beat EOLs went both ways -> UNSUBSCRIBE -> DISCONNECT (receipt) -> close
//     2. CONNECT -> SEND /queue/forbidden receipt:send-forbidden -> ERROR (broker closes)
//   prints {subprotocol, version, message, receipt, heartbeats, error}
const http = require('http');
const { WebSocket } = require('ws');
const { fail, listen, watchdog, done, within, baseUrl, wsUrl, deferred } = require('./common');

const PROTOCOLS = ['v12.stomp', 'v11.stomp', 'v10.stomp'];

function server() {
  const { createStompBroker } = require('./stomp_broker');
  const httpServer = http.createServer((req, res) => { res.writeHead(404); res.end('STOMP broker: use ws://.../stomp\n'); });
  const log = process.env.STOMP_DEBUG ? (s) => process.stderr.write(`broker: ${s}\n`) : undefined;
  const wss = createStompBroker({ server: httpServer, path: '/stomp', heartbeat: [1000, 1000], log });
  listen(httpServer, () => wss.close());
}

function makeClient(url, opts, hooks) {
  const { Client } = require('@stomp/stompjs');
  return new Client({
    webSocketFactory: () => {
      const ws = new WebSocket(url, PROTOCOLS, { perMessageDeflate: false });
      ws.on('open', () => hooks.onOpen && hooks.onOpen(ws));
      return ws;
    },
    reconnectDelay: 0, // no automatic reconnect: failures must surface
    connectionTimeout: 10000,
    heartbeatIncoming: 1000,
    heartbeatOutgoing: 1000,
    debug: (s) => {
      if (process.env.STOMP_DEBUG) process.stderr.write(`stompjs: ${s}\n`);
      if (hooks.debug) hooks.debug(s);
    },
    ...opts,
  });
}

async function client(base) {
  const url = wsUrl(base, '/stomp');
  const wd = watchdog(15000);
  const summary = {};

  // ---- session 1: the happy path ----
  const connected = deferred();
  const gotMessage = deferred();
  const gotReceipt = deferred();
  const beats = { sent: 0, received: 0 };
  const beatsBothWays = deferred();
  const closed1 = deferred();
  const c1 = makeClient(url, { connectHeaders: { login: 'alice', passcode: 'secret', host: '127.0.0.1' } }, {
    onOpen: (ws) => { summary.subprotocol = ws.protocol || null; },
    debug: (s) => {
      if (s === '>>> PING') beats.sent++;
      if (s === '<<< PONG') beats.received++;
      if (beats.sent && beats.received) beatsBothWays.resolve();
    },
  });
  c1.onConnect = (frame) => connected.resolve(frame);
  c1.onStompError = (frame) => fail(`unexpected ERROR frame in session 1: ${frame.headers.message} ${frame.body}`);
  c1.onWebSocketError = () => connected.reject(new Error(`WebSocket error connecting to ${url}`));
  c1.onWebSocketClose = (evt) => { closed1.resolve(evt); connected.reject(new Error(`WebSocket closed before CONNECTED (code ${evt.code})`)); };
  c1.activate();

  wd.step('session 1 CONNECTED');
  const cframe = await within(connected.promise, 'CONNECTED');
  summary.version = cframe.headers.version;
  summary.server_heart_beat = cframe.headers['heart-beat'];
  wd.step('session 1 SUBSCRIBE /topic/chat');
  const sub = c1.subscribe('/topic/chat', (m) => gotMessage.resolve(m), { receipt: 'sub-1' });
  c1.watchForReceipt('send-1', (f) => gotReceipt.resolve(f));
  c1.publish({
    destination: '/app/chat.send',
    body: JSON.stringify({ text: 'cc' }),
    headers: { 'content-type': 'application/json', receipt: 'send-1' },
  });
  wd.step('session 1 MESSAGE');
  const msg = await within(gotMessage.promise, 'MESSAGE on /topic/chat');
  summary.message = { headers: msg.headers, body: JSON.parse(msg.body) };
  if (summary.message.body.text !== 'cc' || summary.message.body.sender !== 'alice') throw new Error(`unexpected MESSAGE body ${msg.body}`);
  wd.step('session 1 RECEIPT send-1');
  summary.receipt = (await within(gotReceipt.promise, 'RECEIPT send-1')).headers;
  wd.step('session 1 heart-beats both ways');
  await within(beatsBothWays.promise, 'heart-beat EOLs in both directions', 5000);
  summary.heartbeats = { ...beats };
  sub.unsubscribe();
  wd.step('session 1 DISCONNECT');
  await within(c1.deactivate(), 'DISCONNECT/close');
  await within(closed1.promise, 'session 1 close');

  // ---- session 2: a SEND the broker refuses with an ERROR frame ----
  const connected2 = deferred();
  const gotError = deferred();
  const closed2 = deferred();
  const c2 = makeClient(url, { connectHeaders: { login: 'alice', host: '127.0.0.1' } }, {});
  c2.onConnect = () => connected2.resolve();
  c2.onStompError = (frame) => gotError.resolve(frame);
  c2.onWebSocketClose = (evt) => { closed2.resolve(evt); connected2.reject(new Error(`session 2 closed before CONNECTED (code ${evt.code})`)); };
  c2.activate();
  wd.step('session 2 CONNECTED');
  await within(connected2.promise, 'session 2 CONNECTED');
  c2.publish({ destination: '/queue/forbidden', body: JSON.stringify({ text: 'cc' }), headers: { 'content-type': 'application/json', receipt: 'send-forbidden' } });
  wd.step('session 2 ERROR frame');
  const err = await within(gotError.promise, 'ERROR frame');
  summary.error = { headers: err.headers, body: err.body };
  wd.step('session 2 close after ERROR');
  await within(closed2.promise, 'broker closing the connection after ERROR');
  await c2.deactivate();
  done(summary, wd);
}

const [mode, url] = process.argv.slice(2);
if (mode === 'server') server();
else if (mode === 'client') client(baseUrl(url)).catch((e) => fail(e && e.message || String(e)));
else fail('usage: stomp.js server | client URL');
