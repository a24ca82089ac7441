#!/usr/bin/env node
// Headless Chromium sends one text over a WebSocket and reports what it
// negotiated and got back (tests/relay.rs: permessage-deflate through wsdiag).
//
// Usage: node browser_deflate.js <base-url> <ws-path> <text>
//
// Loads <base-url>/ (so that the socket's Origin is the site's own), opens
// `new WebSocket(<ws-path>)` there (Chromium always offers
// permessage-deflate), sends <text> once open, waits for one message back,
// closes with 1000 and prints one JSON line:
//   {opened, extensions, echoed_len, echoed_same, close: {code, reason, wasClean}}
// where `extensions` is `ws.extensions` (what the server's 101 agreed to)
// and `echoed_same` whether the message back equals <text>. Gives up after
// 10 s (close stays null). Exits 1 with the reason on stderr if Chromium
// cannot be driven.
'use strict';

const { launchChromium } = require('./launch');

async function main() {
  const [base, wsPath, text] = process.argv.slice(2);
  if (!base || !wsPath || text === undefined) {
    process.stderr.write('usage: node browser_deflate.js <base-url> <ws-path> <text>\n');
    process.exit(1);
  }
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(base.replace(/\/+$/, '') + '/', { timeout: 20000 });
    const result = await page.evaluate(({ path, sent }) => new Promise((resolve) => {
      const report = { opened: false, extensions: null, echoed_len: null, echoed_same: null, close: null };
      const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + path);
      ws.onopen = () => {
        report.opened = true;
        report.extensions = ws.extensions;
        ws.send(sent);
      };
      ws.onmessage = (e) => {
        report.echoed_len = e.data.length;
        report.echoed_same = e.data === sent;
        ws.close(1000, 'done');
      };
      ws.onclose = (e) => {
        report.close = { code: e.code, reason: e.reason, wasClean: e.wasClean };
        resolve(report);
      };
      setTimeout(() => resolve(report), 10000);
    }), { path: wsPath, sent: text });
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  process.stderr.write(`browser_deflate.js: ${e.stack || e}\n`);
  process.exit(1);
});
