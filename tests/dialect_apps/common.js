'use strict';
// Shared helpers for the dialect apps (servers and clients).
// Conventions:
//   servers: listen on 127.0.0.1:0, print exactly one stdout line
//            `listening on http://127.0.0.1:PORT` once ready.
//   clients: take the base URL (http://127.0.0.1:PORT) as first argument, print one
//            JSON summary line on stdout, exit 0 on success; on failure/timeout print
//            a clear message on stderr and exit non-zero.

const TIMEOUT_MS = Number(process.env.DIALECT_TIMEOUT_MS || 10000);

function fail(msg) {
  process.stderr.write(`${process.argv[1].split('/').pop()}: FAIL: ${msg}\n`);
  process.exit(1);
}

// Print the ready line for an http.Server that is already listening.
function announce(server) {
  const { port } = server.address();
  process.stdout.write(`listening on http://127.0.0.1:${port}\n`);
}

// server.listen(0, '127.0.0.1') + ready line + clean exit on SIGTERM/SIGINT.
function listen(server, onClose) {
  server.listen(0, '127.0.0.1', () => announce(server));
  const stop = () => {
    try { if (onClose) onClose(); } catch (_) { /* ignore */ }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// Client watchdog: every client step is bounded. `step(name)` records what we are
// waiting for so a timeout says which step hung.
function watchdog(ms = TIMEOUT_MS) {
  let current = 'start';
  const timer = setTimeout(() => fail(`timeout after ${ms} ms waiting for: ${current}`), ms);
  return {
    step(name) { current = name; },
    get current() { return current; },
    clear() { clearTimeout(timer); },
  };
}

// Print the summary and exit 0. The short unref'd grace period lets close frames /
// FIN packets already queued reach the peer; if the event loop drains sooner the
// process exits by itself (still 0).
function done(summary, wd) {
  if (wd) wd.clear();
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exitCode = 0;
  setTimeout(() => process.exit(0), 500).unref();
}

// Promise with its own deadline and a descriptive error.
function within(promise, what, ms = TIMEOUT_MS) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

function baseUrl(arg) {
  if (!arg || !/^https?:\/\//.test(arg)) fail(`usage: first argument must be the base URL, e.g. http://127.0.0.1:8080 (got ${arg === undefined ? 'nothing' : JSON.stringify(arg)})`);
  return arg.replace(/\/+$/, '');
}

function wsUrl(base, path) {
  return base.replace(/^http/, 'ws') + path;
}

function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

process.on('unhandledRejection', (e) => fail(`unhandled rejection: ${e && e.stack || e}`));

module.exports = { TIMEOUT_MS, fail, announce, listen, watchdog, done, within, baseUrl, wsUrl, deferred };
