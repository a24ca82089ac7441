'use strict';
// MessagePack chat over WebSocket binary frames (ws 8 + @msgpack/msgpack 3).
//   node msgpack_chat.js server      -> ws endpoint /ws/chat, prints `listening on http://127.0.0.1:PORT`
//     on {type:'chat_message', message} answers {type:'chat_message', data:{id, message, sender}}
//     (sender = ?user= query parameter, default 'alice'; id increments per server)
//     MSGPACK_ANSWER=changed -> answers with message 'CHANGED' (for replay-difference tests)
//   node msgpack_chat.js client URL  -> sends {type:'chat_message', message:'cc'}, waits for the
//     answer, closes 1000; prints {sent, received}
const http = require('http');
const { WebSocket, WebSocketServer } = require('ws');
const { encode, decode } = require('@msgpack/msgpack');
const { fail, listen, watchdog, done, within, baseUrl, wsUrl } = require('./common');

function server() {
  const changed = process.env.MSGPACK_ANSWER === 'changed';
  if (process.env.MSGPACK_ANSWER && !changed) fail(`unknown MSGPACK_ANSWER=${process.env.MSGPACK_ANSWER} (expected changed)`);
  let nextId = 1;
  const httpServer = http.createServer((req, res) => { res.writeHead(404); res.end('msgpack chat: use ws://.../ws/chat\n'); });
  const wss = new WebSocketServer({ server: httpServer, path: '/ws/chat', perMessageDeflate: false });
  wss.on('connection', (ws, req) => {
    const sender = new URL(req.url, 'http://x').searchParams.get('user') || 'alice';
    ws.on('message', (data, isBinary) => {
      let msg;
      try {
        msg = decode(isBinary ? data : Buffer.from(data));
      } catch (e) {
        ws.send(encode({ type: 'error', error: `not MessagePack: ${e.message}` }));
        return;
      }
      if (msg && msg.type === 'chat_message') {
        ws.send(encode({ type: 'chat_message', data: { id: nextId++, message: changed ? 'CHANGED' : msg.message, sender } }));
      } else {
        ws.send(encode({ type: 'error', error: `unknown type ${msg && msg.type}` }));
      }
    });
    ws.on('error', () => {});
  });
  listen(httpServer, () => wss.close());
}

async function client(base) {
  const wd = watchdog();
  const ws = new WebSocket(wsUrl(base, '/ws/chat'), { perMessageDeflate: false });
  wd.step('open');
  await within(new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); }), 'WebSocket open');
  const sent = { type: 'chat_message', message: 'cc' };
  const reply = new Promise((res, rej) => {
    ws.once('message', (data, isBinary) => (isBinary ? res(decode(data)) : rej(new Error('expected a binary frame'))));
    ws.once('close', (code) => rej(new Error(`closed (${code}) before the answer`)));
  });
  ws.send(encode(sent));
  wd.step('answer');
  const received = await within(reply, 'MessagePack answer');
  if (!received || received.type !== 'chat_message' || !received.data) throw new Error(`unexpected answer ${JSON.stringify(received)}`);
  wd.step('close');
  const closed = new Promise((res) => ws.once('close', res));
  ws.close(1000, 'bye');
  await within(closed, 'close handshake');
  done({ sent, received }, wd);
}

const [mode, url] = process.argv.slice(2);
if (mode === 'server') server();
else if (mode === 'client') client(baseUrl(url)).catch((e) => fail(e && e.message || String(e)));
else fail('usage: msgpack_chat.js server | client URL');
