'use strict';
// Tiny STOMP 1.0/1.1/1.2 broker over WebSocket (ws 8), written from the STOMP 1.2 spec
// (https://stomp.github.io/stomp-specification-1.2.html). The only broker on npm
// (stomp-broker-js 1.3.0) never answers a SEND's receipt header (its middleware wrapper drops
// the callback), always answers `version:1.1` while ws 5 picks `v12.stomp`, and cannot send
// ERROR frames, so it is not used.
//
// Supported: CONNECT/STOMP -> CONNECTED (version + heart-beat negotiation), SEND, SUBSCRIBE,
// UNSUBSCRIBE, ACK/NACK (accepted, no redelivery), BEGIN/COMMIT/ABORT (SENDs buffered until
// COMMIT), DISCONNECT, RECEIPT for any frame carrying `receipt`, ERROR (+ close) on protocol
// errors, heart-beat EOLs both ways, several frames / EOLs in one WebSocket message, frames split
// over several messages, content-length bodies (with NULs), 1.1/1.2 header escaping.
// Destinations:
//   /topic/<name>    pub-sub: MESSAGE to every subscription with exactly that destination
//   /app/chat.send   application endpoint: body JSON {text} -> MESSAGE on /topic/chat with
//                    JSON {id, text, sender} (sender = CONNECT `login` header or "anonymous")
//   anything else    refused with an ERROR frame (message: "Unknown destination ...") + close
const crypto = require('crypto');
const { isUtf8 } = require('buffer');
const { WebSocketServer } = require('ws');

const SUBPROTOCOLS = ['v12.stomp', 'v11.stomp', 'v10.stomp'];
const VERSIONS = ['1.2', '1.1', '1.0'];
const SERVER_NAME = 'wsdiag-tiny-stomp/1.0';
const NUL = 0x00;
const LF = 0x0a;
const CR = 0x0d;

function decodeHeader(s, version) {
  if (version === '1.0') return s;
  return s.replace(/\\(.)|\\$/g, (m, c) => {
    if (c === 'n') return '\n';
    if (c === 'c') return ':';
    if (c === '\\') return '\\';
    if (c === 'r' && version === '1.2') return '\r';
    throw new Error(`undefined escape sequence ${JSON.stringify(m)} in header`);
  });
}

function encodeHeader(s, version) {
  s = String(s);
  if (version === '1.0') return s.replace(/[\r\n]/g, ' ');
  s = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/:/g, '\\c');
  return version === '1.2' ? s.replace(/\r/g, '\\r') : s.replace(/\r/g, '');
}

function serialize(command, headers, body, version) {
  const escape = command !== 'CONNECTED' && command !== 'CONNECT';
  const lines = [command];
  for (const [k, v] of headers) {
    lines.push(escape ? `${encodeHeader(k, version)}:${encodeHeader(v, version)}` : `${k}:${v}`);
  }
  const head = Buffer.from(lines.join('\n') + '\n\n', 'utf8');
  return Buffer.concat([head, body || Buffer.alloc(0), Buffer.from([NUL])]);
}

// Incremental parser: feed() bytes, get back [{heartbeat:true} | {command, headers(Map), body}].
class FrameParser {
  constructor() { this.buf = Buffer.alloc(0); this.version = '1.2'; }

  feed(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out = [];
    for (;;) {
      // EOLs between frames are heart-beats.
      if (this.buf.length && this.buf[0] === LF) { this.buf = this.buf.subarray(1); out.push({ heartbeat: true }); continue; }
      if (this.buf.length >= 2 && this.buf[0] === CR && this.buf[1] === LF) { this.buf = this.buf.subarray(2); out.push({ heartbeat: true }); continue; }
      if (!this.buf.length) break;
      const frame = this.tryFrame();
      if (!frame) break;
      out.push(frame);
    }
    return out;
  }

  tryFrame() {
    const b = this.buf;
    let pos = 0;
    const readLine = () => {
      const i = b.indexOf(LF, pos);
      if (i < 0) return null;
      let end = i;
      if (end > pos && b[end - 1] === CR) end--;
      const line = b.toString('utf8', pos, end);
      pos = i + 1;
      return line;
    };
    const command = readLine();
    if (command === null) return null;
    const rawHeaders = [];
    for (;;) {
      const line = readLine();
      if (line === null) return null;
      if (line === '') break;
      const c = line.indexOf(':');
      if (c < 0) throw new Error(`malformed header line ${JSON.stringify(line)}`);
      rawHeaders.push([line.slice(0, c), line.slice(c + 1)]);
    }
    const escaped = command !== 'CONNECT' && command !== 'STOMP' && command !== 'CONNECTED';
    const headers = new Map();
    for (const [k, v] of rawHeaders) {
      const key = escaped ? decodeHeader(k, this.version) : k;
      // Repeated header: only the first value counts.
      if (!headers.has(key)) headers.set(key, escaped ? decodeHeader(v, this.version) : v);
    }
    let body;
    if (headers.has('content-length')) {
      const len = Number(headers.get('content-length'));
      if (!Number.isInteger(len) || len < 0) throw new Error(`bad content-length ${headers.get('content-length')}`);
      if (b.length < pos + len + 1) return null;
      if (b[pos + len] !== NUL) throw new Error('frame body not followed by NUL after content-length octets');
      body = b.subarray(pos, pos + len);
      pos += len + 1;
    } else {
      const z = b.indexOf(NUL, pos);
      if (z < 0) return null;
      body = b.subarray(pos, z);
      pos = z + 1;
    }
    this.buf = b.subarray(pos);
    return { command, headers, body: Buffer.from(body) };
  }
}

function createStompBroker({ server, path = '/stomp', heartbeat = [1000, 1000], log = () => {} }) {
  const wss = new WebSocketServer({
    server,
    path,
    perMessageDeflate: false,
    handleProtocols: (protocols) => SUBPROTOCOLS.find((p) => protocols.has(p)) || false,
  });
  const subscriptions = new Set(); // {session, id, destination, ack}
  let messageSeq = 0;
  let chatSeq = 0;

  wss.on('connection', (ws, req) => {
    const session = {
      id: `session-${crypto.randomBytes(4).toString('hex')}`,
      ws,
      parser: new FrameParser(),
      version: null,
      login: null,
      lastSeen: Date.now(),
      timers: [],
      transactions: new Map(),
      closing: false,
    };
    log(`connection ${session.id} ${req.url} subprotocol=${ws.protocol || '-'}`);

    const send = (command, headers, body) => {
      if (ws.readyState !== ws.OPEN) return;
      const bytes = serialize(command, headers, body, session.version || '1.2');
      // Text frame when the whole frame is UTF-8 (what stompjs expects by default).
      if (isUtf8(bytes)) ws.send(bytes.toString('utf8'));
      else ws.send(bytes, { binary: true });
    };

    const stop = () => { session.timers.forEach(clearInterval); session.timers = []; };
    const close = () => {
      session.closing = true;
      stop();
      for (const s of subscriptions) if (s.session === session) subscriptions.delete(s);
      setTimeout(() => ws.close(1000), 50);
    };

    const error = (message, frame, detail) => {
      const headers = [['message', message]];
      if (frame && frame.headers && frame.headers.has('receipt')) headers.push(['receipt-id', frame.headers.get('receipt')]);
      let body = detail || '';
      if (frame && frame.command) {
        body = `The message:\n-----\n${frame.command}\n${[...frame.headers].map(([k, v]) => `${k}:${v}`).join('\n')}\n\n${frame.body.toString('utf8')}\n-----\n${detail || ''}`;
      }
      const b = Buffer.from(body, 'utf8');
      headers.push(['content-type', 'text/plain'], ['content-length', String(b.length)]);
      send('ERROR', headers, b);
      close();
    };

    const receipt = (frame) => {
      if (frame.headers.has('receipt')) send('RECEIPT', [['receipt-id', frame.headers.get('receipt')]]);
    };

    const deliver = (destination, body, contentType, extra = []) => {
      for (const sub of subscriptions) {
        if (sub.destination !== destination) continue;
        const headers = [
          ['destination', destination],
          ['message-id', `msg-${++messageSeq}`],
          ['subscription', sub.id],
        ];
        if (sub.ack !== 'auto' && sub.session.version === '1.2') headers.push(['ack', `ack-${messageSeq}`]);
        if (contentType) headers.push(['content-type', contentType]);
        headers.push(['content-length', String(body.length)], ...extra);
        const s = sub.session;
        if (s.ws.readyState === s.ws.OPEN) {
          const bytes = serialize('MESSAGE', headers, body, s.version);
          if (isUtf8(bytes)) s.ws.send(bytes.toString('utf8'));
          else s.ws.send(bytes, { binary: true });
        }
      }
    };

    const doSend = (frame) => {
      const destination = frame.headers.get('destination');
      const contentType = frame.headers.get('content-type');
      if (destination.startsWith('/topic/')) {
        // User-defined SEND headers are passed through to the MESSAGE.
        const extra = [...frame.headers].filter(([k]) => !/^(destination|receipt|transaction|content-length|content-type|message-id|subscription|ack)$/.test(k));
        deliver(destination, frame.body, contentType, extra);
      } else if (destination === '/app/chat.send') {
        let text;
        try { text = JSON.parse(frame.body.toString('utf8')).text; } catch (_) { /* handled below */ }
        if (typeof text !== 'string') return error('Invalid chat payload', frame, 'expected JSON body {"text": "..."}');
        const msg = { id: ++chatSeq, text, sender: session.login || 'anonymous' };
        deliver('/topic/chat', Buffer.from(JSON.stringify(msg), 'utf8'), 'application/json');
      } else {
        return error(`Unknown destination ${destination}`, frame, 'Only /topic/* and /app/chat.send are accepted by this broker.');
      }
      return true;
    };

    const handlers = {
      CONNECT(frame) {
        if (session.version) return error('Already connected', frame);
        const accept = (frame.headers.get('accept-version') || '1.0').split(',').map((v) => v.trim());
        const version = VERSIONS.find((v) => accept.includes(v));
        if (!version) {
          send('ERROR', [['version', VERSIONS.slice().reverse().join(',')], ['content-type', 'text/plain'], ['message', 'Supported protocol versions are 1.0,1.1,1.2']], Buffer.from('Supported protocol versions are 1.0,1.1,1.2'));
          return close();
        }
        session.version = version;
        session.parser.version = version;
        session.login = frame.headers.get('login') || null;
        const [cx, cy] = (frame.headers.get('heart-beat') || '0,0').split(',').map((n) => Number(n) || 0);
        const [sx, sy] = heartbeat;
        const headers = [['version', version]];
        if (version !== '1.0') headers.push(['heart-beat', `${sx},${sy}`]);
        headers.push(['session', session.id], ['server', SERVER_NAME]);
        send('CONNECTED', headers);
        if (version === '1.0') return;
        // Server -> client heart-beats every max(sx, cy); expect client ones every max(cx, sy).
        if (sx > 0 && cy > 0) {
          session.timers.push(setInterval(() => { if (ws.readyState === ws.OPEN) ws.send('\n'); }, Math.max(sx, cy)));
        }
        if (cx > 0 && sy > 0) {
          const every = Math.max(cx, sy);
          session.timers.push(setInterval(() => {
            if (Date.now() - session.lastSeen > every * 3) { log(`${session.id}: heart-beat timeout`); stop(); ws.terminate(); }
          }, every));
        }
      },
      SEND(frame) {
        if (!frame.headers.has('destination')) return error('SEND without destination header', frame);
        const tx = frame.headers.get('transaction');
        if (tx) {
          if (!session.transactions.has(tx)) return error(`Unknown transaction ${tx}`, frame);
          session.transactions.get(tx).push(frame);
          return receipt(frame);
        }
        if (doSend(frame)) receipt(frame);
      },
      SUBSCRIBE(frame) {
        const id = frame.headers.get('id');
        const destination = frame.headers.get('destination');
        if (!destination) return error('SUBSCRIBE without destination header', frame);
        if (id === undefined && session.version !== '1.0') return error('SUBSCRIBE without id header', frame);
        if (!destination.startsWith('/topic/')) return error(`Cannot subscribe to ${destination}`, frame, 'Only /topic/* can be subscribed to.');
        subscriptions.add({ session, id: id === undefined ? destination : id, destination, ack: frame.headers.get('ack') || 'auto' });
        receipt(frame);
      },
      UNSUBSCRIBE(frame) {
        const id = frame.headers.get('id') || frame.headers.get('destination');
        for (const s of subscriptions) if (s.session === session && s.id === id) subscriptions.delete(s);
        receipt(frame);
      },
      ACK(frame) { receipt(frame); },
      NACK(frame) { receipt(frame); },
      BEGIN(frame) {
        const tx = frame.headers.get('transaction');
        if (!tx || session.transactions.has(tx)) return error('BEGIN needs a new transaction header', frame);
        session.transactions.set(tx, []);
        receipt(frame);
      },
      COMMIT(frame) {
        const tx = frame.headers.get('transaction');
        if (!session.transactions.has(tx)) return error(`Unknown transaction ${tx}`, frame);
        const frames = session.transactions.get(tx);
        session.transactions.delete(tx);
        for (const f of frames) if (!doSend(f)) return;
        receipt(frame);
      },
      ABORT(frame) {
        const tx = frame.headers.get('transaction');
        if (!session.transactions.delete(tx)) return error(`Unknown transaction ${tx}`, frame);
        receipt(frame);
      },
      DISCONNECT(frame) {
        receipt(frame);
        stop();
        for (const s of subscriptions) if (s.session === session) subscriptions.delete(s);
        // The client closes after it gets the RECEIPT; close ourselves if it does not.
        setTimeout(() => { if (ws.readyState === ws.OPEN) ws.close(1000); }, 1000).unref();
      },
    };
    handlers.STOMP = handlers.CONNECT;

    ws.on('message', (data, isBinary) => {
      session.lastSeen = Date.now();
      if (session.closing) return;
      let frames;
      try {
        frames = session.parser.feed(isBinary ? Buffer.from(data) : Buffer.from(data.toString('utf8'), 'utf8'));
      } catch (e) {
        return error('Malformed frame', null, e.message);
      }
      for (const frame of frames) {
        if (session.closing) return;
        if (frame.heartbeat) continue;
        log(`${session.id} <<< ${frame.command}`);
        const h = handlers[frame.command];
        if (!h) return error(`Unknown command ${frame.command}`, frame);
        if (!session.version && frame.command !== 'CONNECT' && frame.command !== 'STOMP') return error('Not connected: first frame must be CONNECT or STOMP', frame);
        h(frame);
      }
    });
    ws.on('close', () => { stop(); for (const s of subscriptions) if (s.session === session) subscriptions.delete(s); });
    ws.on('error', () => {});
  });
  return wss;
}

module.exports = { createStompBroker, FrameParser, serialize };
