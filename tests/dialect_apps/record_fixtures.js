'use strict';
// Runs every server/client pair directly, then again through tap.js, and writes the tap's
// recordings to tests/fixtures/dialects/<name>.jsonl.
//   node record_fixtures.js            -> (re)write the fixtures
//   node record_fixtures.js --check    -> same runs, recordings go to a temp dir (smoke test)
//   node record_fixtures.js --only stomp,mqtt-v4
// Prints one line per run and `N passed, N failed` at the end; exits non-zero on any failure.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const HERE = __dirname;
const check = process.argv.includes('--check');
const onlyIdx = process.argv.indexOf('--only');
const only = onlyIdx > 0 ? process.argv[onlyIdx + 1].split(',') : null;
const outDir = check ? fs.mkdtempSync(path.join(os.tmpdir(), 'dialects-')) : path.resolve(HERE, '../fixtures/dialects');

const v = (pkg) => JSON.parse(fs.readFileSync(path.join(HERE, 'node_modules', pkg, 'package.json'), 'utf8')).version;
const node = `node ${process.version}`;
const ws = `ws@${v('ws')}`;

const CASES = [
  {
    name: 'socketio-websocket',
    server: ['socketio_chat.js'],
    client: ['socketio_client.js', 'URL', '--transport', 'websocket'],
    source: `socket.io-client@${v('socket.io-client')} (engine.io-client@${v('engine.io-client')}) -> socket.io@${v('socket.io')} (engine.io@${v('engine.io')}, socket.io-parser@${v('socket.io-parser')}) on express@${v('express')}, websocket transport only, ${node}`,
  },
  {
    name: 'socketio-polling',
    server: ['socketio_chat.js'],
    client: ['socketio_client.js', 'URL', '--transport', 'polling'],
    recordHttp: true,
    source: `socket.io-client@${v('socket.io-client')} (engine.io-client@${v('engine.io-client')}) -> socket.io@${v('socket.io')} (engine.io@${v('engine.io')}, socket.io-parser@${v('socket.io-parser')}) on express@${v('express')}, long-polling then upgrade, ${node}`,
  },
  {
    name: 'socketio-polling-only',
    server: ['socketio_chat.js'],
    client: ['socketio_client.js', 'URL', '--transport', 'polling-only'],
    recordHttp: true,
    source: `socket.io-client@${v('socket.io-client')} (engine.io-client@${v('engine.io-client')}) -> socket.io@${v('socket.io')} (engine.io@${v('engine.io')}, socket.io-parser@${v('socket.io-parser')}) on express@${v('express')}, long-polling only (upgrade:false), ${node}`,
  },
  {
    name: 'graphql-ws',
    server: ['graphql_ws.js', 'server'],
    client: ['graphql_ws.js', 'client', 'URL'],
    source: `graphql-ws@${v('graphql-ws')} client and server (graphql@${v('graphql')}, ${ws}), subprotocol graphql-transport-ws, ${node}`,
  },
  {
    name: 'stomp',
    server: ['stomp.js', 'server'],
    client: ['stomp.js', 'client', 'URL'],
    source: `@stomp/stompjs@${v('@stomp/stompjs')} client (${ws}) -> tiny STOMP 1.2 broker tests/dialect_apps/stomp_broker.js (${ws}), ${node}`,
  },
  {
    name: 'mqtt-v4',
    server: ['mqtt.js', 'server'],
    client: ['mqtt.js', 'client', 'URL'],
    source: `mqtt@${v('mqtt')} client protocolVersion 4 (mqtt-packet@${v('mqtt-packet')}, ${ws}) -> aedes@${v('aedes')} via ws createWebSocketStream, ${node}`,
  },
  {
    name: 'mqtt-v5',
    server: ['mqtt.js', 'server'],
    client: ['mqtt.js', 'client', 'URL', '--v5'],
    source: `mqtt@${v('mqtt')} client protocolVersion 5 (${ws}) -> minimal MQTT 5 broker in tests/dialect_apps/mqtt.js on mqtt-packet@${v('mqtt-packet')} (aedes@${v('aedes')} has no MQTT 5), ${node}`,
  },
  {
    name: 'msgpack',
    server: ['msgpack_chat.js', 'server'],
    client: ['msgpack_chat.js', 'client', 'URL'],
    source: `@msgpack/msgpack@${v('@msgpack/msgpack')} client and server on ${ws}, binary frames, ${node}`,
  },
  {
    name: 'jsonrpc',
    server: ['jsonrpc.js', 'server'],
    client: ['jsonrpc.js', 'client', 'URL'],
    source: `hand-written JSON-RPC 2.0 client and server on ${ws}, ${node}`,
  },
];

function startListening(args, label, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: HERE, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let err = '';
    const t = setTimeout(() => { child.kill(); reject(new Error(`${label}: no listening line within 10 s; stderr: ${err}`)); }, 10000);
    child.stderr.on('data', (d) => { err += d; });
    child.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/^listening on (http:\/\/127\.0\.0\.1:\d+)\n/m);
      if (m) { clearTimeout(t); resolve({ child, url: m[1], stderr: () => err }); }
    });
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`${label} exited ${code} before listening; stderr: ${err}`)); });
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill('SIGTERM');
  });
}

function runClient(args, url) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args.map((a) => (a === 'URL' ? url : a)), { cwd: HERE, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const t = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, stdout, stderr }); });
  });
}

async function runCase(c) {
  const results = [];
  const srv = await startListening(c.server, `${c.name} server`, c.env);
  try {
    const direct = await runClient(c.client, srv.url);
    results.push({ run: `${c.name} direct`, ok: direct.code === 0, detail: direct.code === 0 ? direct.stdout.trim() : `exit ${direct.code || direct.signal}: ${direct.stderr.trim()}` });
    const file = path.join(outDir, `${c.name}.jsonl`);
    fs.rmSync(file, { force: true });
    const tapArgs = ['tap.js', '--target', srv.url, '--out', file, '--source', c.source];
    if (c.recordHttp) tapArgs.push('--record-http');
    const tap = await startListening(tapArgs, `${c.name} tap`);
    let viaTap;
    try {
      viaTap = await runClient(c.client, tap.url);
      await new Promise((r) => setTimeout(r, 300)); // let the last close handshakes reach the tap
    } finally {
      await stop(tap.child);
    }
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').length : 0;
    const ok = viaTap.code === 0 && lines > 1;
    results.push({ run: `${c.name} via tap -> ${path.relative(process.cwd(), file)} (${lines} lines)`, ok, detail: viaTap.code === 0 ? viaTap.stdout.trim() : `exit ${viaTap.code || viaTap.signal}: ${viaTap.stderr.trim()}` });
  } finally {
    await stop(srv.child);
  }
  return results;
}

(async () => {
  if (!check) fs.mkdirSync(outDir, { recursive: true });
  let passed = 0;
  let failed = 0;
  for (const c of CASES) {
    if (only && !only.includes(c.name)) continue;
    let results;
    try { results = await runCase(c); } catch (e) { results = [{ run: c.name, ok: false, detail: e.message }]; }
    for (const r of results) {
      if (r.ok) passed++; else failed++;
      process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.run}\n     ${r.detail.slice(0, 400)}\n`);
    }
  }
  if (check) fs.rmSync(outDir, { recursive: true, force: true });
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  process.exit(failed ? 1 : 0);
})();
