#!/usr/bin/env node
// Headless Chromium opens one WebSocket and reports how it ended.
//
// Usage: node browser_ws.js <base-url> <page-path> <ws-path>
//
// Loads <base-url><page-path> (any page of the origin, so that the socket's
// Origin is the site's own), runs `new WebSocket(<ws-path>)` in it and
// prints {opened, code, reason, wasClean} as one JSON line once the socket
// closed (or after 10 s). Exits 1 with the reason on stderr if Chromium
// cannot be driven.
'use strict';

const { launchChromium } = require('./launch');

async function main() {
  const [base, pagePath, wsPath] = process.argv.slice(2);
  if (!base || !pagePath || !wsPath) {
    process.stderr.write('usage: node browser_ws.js <base-url> <page-path> <ws-path>\n');
    process.exit(1);
  }
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(base.replace(/\/+$/, '') + pagePath, { timeout: 20000 });
    const result = await page.evaluate((path) => new Promise((resolve) => {
      const url = location.origin.replace(/^http/, 'ws') + path;
      const ws = new WebSocket(url);
      let opened = false;
      ws.onopen = () => { opened = true; };
      ws.onclose = (e) => resolve({ opened, code: e.code, reason: e.reason, wasClean: e.wasClean });
      setTimeout(() => resolve({ opened, code: null, reason: 'no close within 10 s', wasClean: false }), 10000);
    }), wsPath);
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  process.stderr.write(`browser_ws.js: ${e.stack || e}\n`);
  process.exit(1);
});
