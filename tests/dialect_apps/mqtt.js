'use strict';
// MQTT over WebSocket: aedes 1 broker (fed by ws 8's createWebSocketStream) + mqtt 5 client.
//   node mqtt.js server              -> ws endpoint /mqtt (subprotocols mqtt, mqttv3.1),
//                                       prints `listening on http://127.0.0.1:PORT`
//     MQTT 3.1/3.1.1 connections go to aedes. aedes 1.2.0 does not implement MQTT 5 (it answers
//     CONNACK "unacceptable protocol version"), so a connection whose CONNECT says version 5 is
//     served by a minimal in-file MQTT 5 broker built on mqtt-packet 9 (the codec aedes and
//     mqtt.js use): CONNACK, SUBSCRIBE/SUBACK, PUBLISH routing (+ / # filters, QoS 0/1,
//     properties forwarded), PUBACK, UNSUBACK, PINGRESP, DISCONNECT.
//   node mqtt.js client URL [--v5]   -> CONNECT (protocolVersion 4, or 5 with --v5) ->
//       SUBSCRIBE sensors/+ (QoS 1) -> PUBLISH sensors/1 {"temp":21.5} QoS 0 and QoS 1
//       -> receives both -> UNSUBSCRIBE -> DISCONNECT
//     prints {protocol_version, subprotocol, granted, received:[{topic, qos, payload}]}
const http = require('http');
const { WebSocketServer, createWebSocketStream } = require('ws');
const { fail, listen, watchdog, done, within, baseUrl, wsUrl, deferred } = require('./common');

async function server() {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const httpServer = http.createServer((req, res) => { res.writeHead(404); res.end('MQTT broker: use ws://.../mqtt\n'); });
  const wss = new WebSocketServer({
    server: httpServer,
    path: '/mqtt',
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  });
  const v5 = mqtt5Broker();
  wss.on('connection', (ws) => {
    // Peek at the CONNECT's protocol level to pick aedes (v3/v4) or the v5 shim. mqtt.js sends
    // each field of a packet as its own WebSocket message, so gather messages until it is known.
    let head = Buffer.alloc(0);
    const peek = (data) => {
      head = Buffer.concat([head, data]);
      const version = connectVersion(head);
      if (version === null && head.length < 64) return;
      ws.off('message', peek);
      if (version === 5) return v5(ws, head);
      const stream = createWebSocketStream(ws);
      stream.on('error', () => {});
      stream.push(head);
      broker.handle(stream);
    };
    ws.on('message', peek);
  });
  listen(httpServer, () => { wss.close(); broker.close(); });
}

// Protocol level byte of a CONNECT packet: null while incomplete, -1 if not a CONNECT (aedes
// then handles and rejects it).
function connectVersion(buf) {
  if (!buf.length || buf[0] !== 0x10) return -1;
  let i = 1;
  while (i < buf.length && buf[i] & 0x80) i++; // remaining-length varint
  i++;
  if (i + 2 > buf.length) return null;
  const nameLen = buf.readUInt16BE(i);
  const at = i + 2 + nameLen;
  return at < buf.length ? buf[at] : null;
}

function topicMatches(filter, topic) {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

function mqtt5Broker() {
  const mqttPacket = require('mqtt-packet');
  const subs = new Set(); // {conn, filter, qos}
  return function handle(ws, first) {
    const conn = { ws, nextId: 1 };
    const opts = { protocolVersion: 5 };
    const send = (packet) => { if (ws.readyState === ws.OPEN) ws.send(mqttPacket.generate(packet, opts)); };
    const parser = mqttPacket.parser(opts);
    const drop = () => { for (const s of subs) if (s.conn === conn) subs.delete(s); };
    parser.on('error', (e) => {
      send({ cmd: 'disconnect', reasonCode: 0x81, properties: { reasonString: e.message } });
      ws.close();
    });
    parser.on('packet', (p) => {
      switch (p.cmd) {
        case 'connect':
          conn.clientId = p.clientId;
          return send({ cmd: 'connack', sessionPresent: false, reasonCode: 0, properties: { maximumQoS: 1, retainAvailable: false } });
        case 'subscribe':
          for (const s of p.subscriptions) subs.add({ conn, filter: s.topic, qos: Math.min(s.qos, 1) });
          return send({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map((s) => Math.min(s.qos, 1)) });
        case 'unsubscribe':
          for (const t of p.unsubscriptions) for (const s of subs) if (s.conn === conn && s.filter === t) subs.delete(s);
          return send({ cmd: 'unsuback', messageId: p.messageId, granted: p.unsubscriptions.map(() => 0) });
        case 'publish':
          for (const s of subs) {
            if (!topicMatches(s.filter, p.topic)) continue;
            const qos = Math.min(p.qos, s.qos);
            const out = { cmd: 'publish', topic: p.topic, payload: p.payload, qos, retain: false, dup: false };
            if (qos > 0) out.messageId = s.conn.nextId++;
            if (p.properties) out.properties = p.properties;
            if (s.conn.ws.readyState === s.conn.ws.OPEN) s.conn.ws.send(mqttPacket.generate(out, opts));
          }
          if (p.qos === 1) send({ cmd: 'puback', messageId: p.messageId, reasonCode: 0 });
          return undefined;
        case 'puback':
          return undefined;
        case 'pingreq':
          return send({ cmd: 'pingresp' });
        case 'disconnect':
          drop();
          return ws.close();
        default:
          send({ cmd: 'disconnect', reasonCode: 0x82, properties: { reasonString: `unsupported packet ${p.cmd}` } });
          return ws.close();
      }
    });
    ws.on('message', (data) => parser.parse(data));
    ws.on('close', drop);
    ws.on('error', () => {});
    parser.parse(first);
  };
}

async function client(base, v5) {
  const mqtt = require('mqtt');
  const wd = watchdog();
  const protocolVersion = v5 ? 5 : 4;
  const summary = { protocol_version: protocolVersion };
  wd.step('CONNACK');
  const { WebSocket } = require('ws');
  const c = await within(mqtt.connectAsync(wsUrl(base, '/mqtt'), {
    protocolVersion,
    // Same as mqtt.js's default ws construction, but lets us see the negotiated subprotocol.
    createWebsocket: (url, protocols) => {
      summary.offered_subprotocols = protocols;
      const ws = new WebSocket(url, protocols, { perMessageDeflate: false });
      ws.on('open', () => { summary.subprotocol = ws.protocol || null; });
      return ws;
    },
    clientId: `wsdiag-dialect-v${protocolVersion}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10000,
    keepalive: 30,
  }), 'MQTT connect');

  const received = [];
  const both = deferred();
  c.on('message', (topic, payload, packet) => {
    const entry = { topic, qos: packet.qos, payload: JSON.parse(payload.toString('utf8')) };
    if (packet.properties && Object.keys(packet.properties).length) entry.properties = packet.properties;
    received.push(entry);
    if (received.length === 2) both.resolve();
  });
  wd.step('SUBACK');
  const granted = await within(c.subscribeAsync('sensors/+', { qos: 1 }), 'SUBSCRIBE sensors/+');
  summary.granted = granted.map((g) => ({ topic: g.topic, qos: g.qos }));
  const payload = JSON.stringify({ temp: 21.5 });
  const props = v5 ? { properties: { contentType: 'application/json', userProperties: { app: 'wsdiag' } } } : {};
  wd.step('PUBLISH QoS 0');
  await within(c.publishAsync('sensors/1', payload, { qos: 0, ...props }), 'PUBLISH QoS 0');
  wd.step('PUBLISH QoS 1 (PUBACK)');
  await within(c.publishAsync('sensors/1', payload, { qos: 1, ...props }), 'PUBLISH QoS 1 / PUBACK');
  wd.step('receive both publishes');
  await within(both.promise, 'both PUBLISH deliveries');
  summary.received = received.sort((a, b) => a.qos - b.qos);
  wd.step('UNSUBACK');
  await within(c.unsubscribeAsync('sensors/+'), 'UNSUBSCRIBE');
  wd.step('DISCONNECT');
  await within(c.endAsync(), 'DISCONNECT');
  done(summary, wd);
}

const [mode, url, ...rest] = process.argv.slice(2);
if (mode === 'server') server().catch((e) => fail(e && e.stack || String(e)));
else if (mode === 'client') client(baseUrl(url), rest.includes('--v5')).catch((e) => fail(e && e.message || String(e)));
else fail('usage: mqtt.js server | client URL [--v5]');
