'use strict';
// JSON-RPC 2.0 over WebSocket text frames (plain ws 8, hand-written per the JSON-RPC 2.0 spec).
//   node jsonrpc.js server      -> ws endpoint /rpc, prints `listening on http://127.0.0.1:PORT`
//     chat.send {text}  -> result {id}, then a server notification chat.message {id, text, sender}
//     any notification from the client (no id) -> no answer
//     unknown method    -> error {code:-32601, message:'Method not found'}
//     invalid JSON      -> error {code:-32700} id null; non-request object -> -32600
//   node jsonrpc.js client URL  -> notification chat.typing, call chat.send {text:'cc'} (id 1),
//     waits for result + chat.message notification, calls chat.nope (id 2) -> -32601, closes 1000;
//     prints {result, notification, error}
const http = require('http');
const { WebSocket, WebSocketServer } = require('ws');
const { fail, listen, watchdog, done, within, baseUrl, wsUrl, deferred } = require('./common');

function server() {
  let nextId = 1;
  const httpServer = http.createServer((req, res) => { res.writeHead(404); res.end('JSON-RPC: use ws://.../rpc\n'); });
  const wss = new WebSocketServer({ server: httpServer, path: '/rpc', perMessageDeflate: false });
  wss.on('connection', (ws) => {
    const send = (obj) => ws.send(JSON.stringify(obj));
    ws.on('message', (data) => {
      let req;
      try { req = JSON.parse(data.toString('utf8')); } catch (e) {
        return send({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null });
      }
      if (!req || req.jsonrpc !== '2.0' || typeof req.method !== 'string') {
        return send({ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: req && req.id !== undefined ? req.id : null });
      }
      const isNotification = !('id' in req);
      if (req.method === 'chat.send') {
        const text = req.params && req.params.text;
        if (typeof text !== 'string') {
          if (!isNotification) send({ jsonrpc: '2.0', error: { code: -32602, message: 'Invalid params: text required' }, id: req.id });
          return undefined;
        }
        const msg = { id: nextId++, text, sender: 'alice' };
        if (!isNotification) send({ jsonrpc: '2.0', result: { id: msg.id }, id: req.id });
        for (const c of wss.clients) {
          if (c.readyState === c.OPEN) c.send(JSON.stringify({ jsonrpc: '2.0', method: 'chat.message', params: msg }));
        }
        return undefined;
      }
      if (isNotification) return undefined; // e.g. chat.typing: notifications are never answered
      return send({ jsonrpc: '2.0', error: { code: -32601, message: 'Method not found', data: { method: req.method } }, id: req.id });
    });
    ws.on('error', () => {});
  });
  listen(httpServer, () => wss.close());
}

async function client(base) {
  const wd = watchdog();
  const ws = new WebSocket(wsUrl(base, '/rpc'), { perMessageDeflate: false });
  wd.step('open');
  await within(new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); }), 'WebSocket open');
  const pending = new Map();
  const notification = deferred();
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString('utf8'));
    if ('id' in msg && pending.has(msg.id)) { pending.get(msg.id).resolve(msg); pending.delete(msg.id); } else if (msg.method === 'chat.message') notification.resolve(msg);
  });
  const call = (id, method, params) => {
    const d = deferred();
    pending.set(id, d);
    ws.send(JSON.stringify({ jsonrpc: '2.0', method, params, id }));
    return within(d.promise, `response to ${method} (id ${id})`);
  };
  ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'chat.typing', params: { room: 'room-3' } }));
  wd.step('chat.send result');
  const result = await call(1, 'chat.send', { text: 'cc' });
  if (!result.result || typeof result.result.id !== 'number') throw new Error(`unexpected chat.send response ${JSON.stringify(result)}`);
  wd.step('chat.message notification');
  const note = await within(notification.promise, 'chat.message notification');
  wd.step('chat.nope error');
  const error = await call(2, 'chat.nope', {});
  if (!error.error || error.error.code !== -32601) throw new Error(`expected -32601, got ${JSON.stringify(error)}`);
  wd.step('close');
  const closed = new Promise((res) => ws.once('close', res));
  ws.close(1000, 'bye');
  await within(closed, 'close handshake');
  done({ result, notification: note, error }, wd);
}

const [mode, url] = process.argv.slice(2);
if (mode === 'server') server();
else if (mode === 'client') client(baseUrl(url)).catch((e) => fail(e && e.message || String(e)));
else fail('usage: jsonrpc.js server | client URL');
