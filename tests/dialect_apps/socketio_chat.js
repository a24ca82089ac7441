'use strict';
// Express 5 + Socket.IO 4 chat server.
//   node socketio_chat.js            -> prints `listening on http://127.0.0.1:PORT`
// Socket.IO (path /socket.io/):
//   'join' (room, ack)                 -> socket joins room, ack({ok:true, room})
//   'chat message' ({room,text}, ack)  -> saves {id, room, text, sender=handshake.auth.user},
//                                         broadcasts 'message.created' to the room, ack({ok:true,id})
//   'upload' (Buffer, ack)             -> ack(byteLength)   (binary attachment, 451-... packets)
// REST:
//   POST /api/rooms/:room/messages {text}, header X-User -> 201 saved message (+ broadcast)
//   GET  /api/rooms/:room/messages                       -> 200 [messages]
// CHAT_BUG=no-body-parser : express.json() not mounted on the POST route -> req.body is
//                           undefined -> TypeError -> 500 (finalhandler HTML page with stack)
// CHAT_SENDER=NAME        : every Socket.IO message is saved with this sender (answers that changed)
// CHAT_BUG=no-sender      : POST reads req.user.name (req.user undefined) -> TypeError -> 500
// CHAT_BUG=error-after-save : POST saves + broadcasts, then reads msg.author.name while building
//                           the response (msg.author undefined) -> TypeError -> 500 although saved
// CHAT_BUG=wrong-field    : POST validates req.body.content (the frontend sends `text`)
//                           -> 400 {"error":"content is required"}
// NODE_ENV=production     : Express runs in production mode: finalhandler answers the bare
//                           `Internal Server Error` page without the stack (default: development)
const http = require('http');
const express = require('express');
const { Server } = require('socket.io');
const { listen } = require('./common');

const BUGS = ['no-body-parser', 'no-sender', 'error-after-save', 'wrong-field'];
const BUG = process.env.CHAT_BUG || '';
if (BUG && !BUGS.includes(BUG)) {
  process.stderr.write(`socketio_chat.js: unknown CHAT_BUG=${BUG} (expected ${BUGS.join(' | ')})\n`);
  process.exit(2);
}

const app = express();
// Development mode (default): the finalhandler error page includes the stack trace.
// NODE_ENV=production: the page only says `Internal Server Error` (the stack goes to stderr).
app.set('env', process.env.NODE_ENV === 'production' ? 'production' : 'development');
const server = http.createServer(app);
const io = new Server(server, { cors: { origin: true } });

const messages = [];
let nextId = 1;

function save(room, text, sender) {
  const msg = { id: nextId++, room, text, sender };
  messages.push(msg);
  io.to(room).emit('message.created', msg);
  return msg;
}

io.on('connection', (socket) => {
  // CHAT_SENDER overrides the sender: a server whose answers changed, for replay tests.
  const sender = process.env.CHAT_SENDER || (socket.handshake.auth && socket.handshake.auth.user) || 'anonymous';
  socket.on('join', (room, ack) => {
    socket.join(room);
    if (typeof ack === 'function') ack({ ok: true, room });
  });
  socket.on('chat message', (payload, ack) => {
    const msg = save(payload.room, payload.text, sender);
    if (typeof ack === 'function') ack({ ok: true, id: msg.id });
  });
  socket.on('upload', (buf, ack) => {
    const len = buf && buf.length !== undefined ? buf.length : -1;
    if (typeof ack === 'function') ack(len);
  });
});

app.get('/api/rooms/:room/messages', (req, res) => {
  res.json(messages.filter((m) => m.room === req.params.room));
});

const postHandlers = [];
if (BUG !== 'no-body-parser') postHandlers.push(express.json());
postHandlers.push((req, res) => {
  if (BUG === 'wrong-field') {
    // Validates a field the frontend never sends (it sends `text`).
    const content = req.body.content;
    if (typeof content !== 'string' || !content) return res.status(400).json({ error: 'content is required' });
    return res.status(201).json(save(req.params.room, content, req.get('X-User') || 'anonymous'));
  }
  const text = req.body.text; // TypeError when no body parser is mounted
  const sender = BUG === 'no-sender' ? req.user.name : req.get('X-User'); // TypeError for no-sender
  if (typeof text !== 'string' || !text) return res.status(400).json({ error: 'text required' });
  const msg = save(req.params.room, text, sender || 'anonymous');
  if (BUG === 'error-after-save') {
    // Saved and broadcast already; building the response fails (msg.author is undefined).
    return res.status(201).json({ ...msg, author: msg.author.name });
  }
  res.status(201).json(msg);
});
app.post('/api/rooms/:room/messages', ...postHandlers);

listen(server, () => io.close());

// Started by round_robin.js: go when it goes, instead of staying behind
// as an orphan holding a port.
if (process.send) process.on('disconnect', () => process.exit(0));
