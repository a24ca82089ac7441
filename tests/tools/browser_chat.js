#!/usr/bin/env node
// Headless-Chromium check of the wsdiag demo chat page.
//
// Usage: node browser_chat.js <base-url> <screenshot-path>
//
// Opens <base-url>/ in Debian's Chromium (/usr/bin/chromium, see
// install_chromium.sh) through playwright-core, waits until the page sets
// window.wsdiagDemo.done === true, then prints JSON.stringify(window.wsdiagDemo)
// -- extended with `console` (console messages), `browserFrames` (WebSocket
// frames as Playwright saw them) and `browserWebSockets` (handshake headers as
// Chromium's DevTools protocol reported them) -- as the single line of stdout,
// writes a full-page screenshot and exits 0. On any failure it explains on
// stderr what the page had so far and exits 1.
'use strict';

const { chromium } = require('playwright-core');

const EXECUTABLE = process.env.WSDIAG_CHROMIUM || '/usr/bin/chromium';
const TIMEOUT_MS = 20000;
const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
];
// The page's REST call is expected to fail with 500; Chromium reports that
// resource load as a console error, which is therefore not a failure. Neither
// is a failed /favicon.ico load: Chromium requests it on its own unless the
// page declares an icon (e.g. <link rel="icon" href="data:,">).
const EXPECTED_POST_PATH = '/api/conversations/3/messages/';

function isExpectedConsoleError(entry) {
  const path = typeof entry.url === 'string' ? entry.url.split(/[?#]/)[0] : '';
  if (/^Failed to load resource: /.test(entry.text) && path.endsWith('/favicon.ico')) return true;
  return (
    /^Failed to load resource: the server responded with a status of 500\b/.test(entry.text) &&
    path.endsWith(EXPECTED_POST_PATH)
  );
}

function payloadOf(payload) {
  return typeof payload === 'string' ? payload : { base64: Buffer.from(payload).toString('base64') };
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function main() {
  const [baseArg, screenshotPath] = process.argv.slice(2);
  if (!baseArg || !screenshotPath) {
    process.stderr.write('usage: node browser_chat.js <base-url> <screenshot-path>\n');
    process.exit(1);
  }
  const url = baseArg.replace(/\/+$/, '') + '/';

  const consoleMessages = [];
  const browserFrames = [];
  const browserWebSockets = [];
  const wsClosed = [];
  let browser;
  let page;
  let failNow;
  const failure = new Promise((_, reject) => {
    failNow = reject;
  });
  failure.catch(() => {});

  async function pageState() {
    if (!page) return undefined;
    try {
      return await withTimeout(
        page.evaluate(() => (window.wsdiagDemo === undefined ? undefined : JSON.parse(JSON.stringify(window.wsdiagDemo)))),
        2000,
        'reading window.wsdiagDemo',
      );
    } catch (e) {
      return `<could not read window.wsdiagDemo: ${e.message}>`;
    }
  }

  try {
    browser = await chromium.launch({
      executablePath: EXECUTABLE,
      headless: true,
      args: LAUNCH_ARGS,
      timeout: TIMEOUT_MS,
    });
    const context = await browser.newContext();
    page = await context.newPage();

    page.on('console', (msg) => {
      const loc = msg.location() || {};
      const entry = { type: msg.type(), text: msg.text(), url: loc.url || '' };
      consoleMessages.push(entry);
      if (entry.type === 'error' && !isExpectedConsoleError(entry)) {
        failNow(new Error(`console error on the page: ${entry.text}${entry.url ? ` (${entry.url})` : ''}`));
      }
    });
    page.on('pageerror', (err) => {
      failNow(new Error(`uncaught exception on the page: ${err.stack || err.message || err}`));
    });
    page.on('crash', () => failNow(new Error('the page crashed')));
    page.on('websocket', (ws) => {
      const socketUrl = ws.url();
      wsClosed.push(new Promise((resolve) => ws.on('close', resolve)));
      ws.on('framesent', (f) => browserFrames.push({ dir: 'sent', payload: payloadOf(f.payload), url: socketUrl }));
      ws.on('framereceived', (f) => browserFrames.push({ dir: 'received', payload: payloadOf(f.payload), url: socketUrl }));
      ws.on('socketerror', (e) => consoleMessages.push({ type: 'websocket-error', text: String(e), url: socketUrl }));
    });

    // Handshake headers are not exposed by Playwright's WebSocket object; ask
    // Chromium's DevTools protocol directly.
    const cdp = await context.newCDPSession(page);
    const byId = new Map();
    const socketInfo = (requestId, socketUrl) => {
      if (!byId.has(requestId)) {
        const info = { url: socketUrl };
        byId.set(requestId, info);
        browserWebSockets.push(info);
      }
      return byId.get(requestId);
    };
    cdp.on('Network.webSocketCreated', (e) => socketInfo(e.requestId, e.url));
    cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => {
      socketInfo(e.requestId).requestHeaders = e.request.headers;
    });
    cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
      const info = socketInfo(e.requestId);
      info.status = e.response.status;
      info.responseHeaders = e.response.headers;
      if (e.response.requestHeaders) info.requestHeaders = e.response.requestHeaders;
    });
    await cdp.send('Network.enable');

    const deadline = Date.now() + TIMEOUT_MS;
    const remaining = () => Math.max(1, deadline - Date.now());
    await Promise.race([failure, page.goto(url, { waitUntil: 'load', timeout: remaining() })]);
    await Promise.race([
      failure,
      page
        .waitForFunction(
          () => window.wsdiagDemo && (window.wsdiagDemo.done === true || window.wsdiagDemo.error != null),
          null,
          { timeout: remaining(), polling: 50 },
        )
        .catch((e) => {
          throw new Error(`window.wsdiagDemo.done did not become true within ${TIMEOUT_MS} ms (${e.message.split('\n')[0]})`);
        }),
    ]);
    const state = await pageState();
    if (!state || typeof state !== 'object') throw new Error('window.wsdiagDemo vanished');
    if (state.error != null) throw new Error(`the page reported an error: ${JSON.stringify(state.error)}`);

    // The page closes its socket once done; wait (briefly) for the close so
    // every frame event has been delivered before reporting them.
    await Promise.race([failure, withTimeout(Promise.all(wsClosed), 3000, 'waiting for the WebSocket to close').catch(() => {})]);

    await page.screenshot({ path: screenshotPath, fullPage: true, timeout: TIMEOUT_MS });
    const result = Object.assign({}, state, { console: consoleMessages, browserFrames, browserWebSockets });
    await withTimeout(browser.close(), 10000, 'closing the browser').catch(() => {});
    browser = undefined;
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  } catch (err) {
    const state = await pageState();
    const lines = [
      `browser_chat.js: FAILED loading ${url}: ${String(err && err.message ? err.message : err).replace(/\x1b\[[0-9;]*m/g, '')}`,
      `window.wsdiagDemo so far: ${state === undefined ? '<undefined>' : JSON.stringify(state)}`,
      `console messages: ${JSON.stringify(consoleMessages)}`,
      `websocket frames: ${JSON.stringify(browserFrames)}`,
      `websocket handshakes: ${JSON.stringify(browserWebSockets)}`,
    ];
    process.stderr.write(lines.join('\n') + '\n');
    if (browser) await withTimeout(browser.close(), 10000, 'closing the browser').catch(() => {});
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`browser_chat.js: FAILED: ${(err && err.stack) || err}\n`);
    process.exit(1);
  },
);
