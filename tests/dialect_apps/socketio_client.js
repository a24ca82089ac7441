'use strict';
// socket.io-client 4 scripted exchange against socketio_chat.js.
//   node socketio_client.js URL [--transport websocket|polling|polling-only] [--text cc] [--rest]
//     websocket    = WebSocket transport only
//     polling      = library default: HTTP long-polling first, then upgrade to WebSocket
//     polling-only = long-polling without upgrade (every packet travels in HTTP bodies)
// Steps: connect with auth {user:'alice'} -> emit 'join' 'room-3' (ack) -> emit 'chat message'
// {room:'room-3', text} (ack) + wait for 'message.created' broadcast -> emit 'upload'
// Buffer[4] (ack) -> [--rest: POST URL/api/rooms/room-3/messages {text} X-User: alice]
// -> disconnect. Prints one JSON line: {transport, upgraded, ack, broadcast, upload_ack, rest_status, ...}
const { io } = require('socket.io-client');
const { fail, watchdog, done, within, baseUrl, deferred } = require('./common');

const args = process.argv.slice(2);
const url = baseUrl(args[0]);
let transport = 'polling';
let text = 'cc';
let rest = false;
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--transport') transport = args[++i];
  else if (args[i] === '--text') text = args[++i];
  else if (args[i] === '--rest') rest = true;
  else fail(`unknown argument ${args[i]}`);
}
if (!['websocket', 'polling', 'polling-only'].includes(transport)) fail(`--transport must be websocket, polling or polling-only, got ${transport}`);

const ROOM = 'room-3';

async function main() {
  const wd = watchdog();
  const socket = io(url, {
    auth: { user: 'alice' },
    transports: { websocket: ['websocket'], polling: ['polling', 'websocket'], 'polling-only': ['polling'] }[transport],
    upgrade: transport !== 'polling-only',
    reconnection: false,
    timeout: 10000,
  });
  let upgraded = false;
  socket.io.on('open', () => socket.io.engine.once('upgrade', () => { upgraded = true; }));
  const broadcasts = [];
  const waiters = [];
  socket.on('message.created', (m) => {
    broadcasts.push(m);
    waiters.splice(0).forEach((w) => w.resolve());
  });
  const nextBroadcast = (n) => {
    const d = deferred();
    const check = () => (broadcasts.length >= n ? d.resolve() : waiters.push({ resolve: check }));
    check();
    return d.promise;
  };

  wd.step('connect');
  await within(new Promise((res, rej) => {
    socket.once('connect', res);
    socket.once('connect_error', (e) => rej(new Error(`connect_error: ${e.message}`)));
  }), 'socket.io connect');

  wd.step('join ack');
  const joinAck = await socket.timeout(10000).emitWithAck('join', ROOM);
  if (!joinAck || !joinAck.ok) throw new Error(`join not acknowledged: ${JSON.stringify(joinAck)}`);

  wd.step('chat message ack');
  const ack = await socket.timeout(10000).emitWithAck('chat message', { room: ROOM, text });
  if (!ack || !ack.ok) throw new Error(`chat message ack not ok: ${JSON.stringify(ack)}`);
  wd.step('message.created broadcast');
  await within(nextBroadcast(1), 'message.created broadcast');
  const broadcast = broadcasts[0];
  if (broadcast.text !== text || broadcast.sender !== 'alice') throw new Error(`unexpected broadcast ${JSON.stringify(broadcast)}`);

  wd.step('upload ack');
  const uploadAck = await socket.timeout(10000).emitWithAck('upload', Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  if (uploadAck !== 4) throw new Error(`upload ack should be 4, got ${JSON.stringify(uploadAck)}`);

  const summary = { transport: socket.io.engine.transport.name, upgraded, ack, broadcast, upload_ack: uploadAck, rest_status: null };
  if (rest) {
    wd.step('REST POST');
    const res = await within(fetch(`${url}/api/rooms/${ROOM}/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-User': 'alice' },
      body: JSON.stringify({ text }),
    }), 'REST POST');
    summary.rest_status = res.status;
    const body = await within(res.text(), 'REST body');
    if (res.status === 201) {
      summary.rest_body = JSON.parse(body);
      wd.step('message.created broadcast after REST POST');
      await within(nextBroadcast(2), 'message.created broadcast after REST POST');
      summary.rest_broadcast = broadcasts[1];
    } else {
      // e.g. 500 from CHAT_BUG: keep the first line of the error (finalhandler puts it in <pre>).
      const m = body.match(/<pre>([^<\n]*)/);
      summary.rest_error = m ? m[1].replace(/&nbsp;/g, ' ').replace(/&#39;/g, "'").replace(/&quot;/g, '"') : body.slice(0, 200);
    }
  }

  wd.step('disconnect');
  const closed = new Promise((res) => socket.once('disconnect', res));
  socket.disconnect();
  await within(closed, 'disconnect');
  done(summary, wd);
}

main().catch((e) => fail(e && e.message || String(e)));
