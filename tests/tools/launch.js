// Debian's headless Chromium, driven by playwright-core, as every browser
// test script here starts it: WSDIAG_CHROMIUM overrides the executable.
'use strict';

const { chromium } = require('playwright-core');

const EXECUTABLE = process.env.WSDIAG_CHROMIUM || '/usr/bin/chromium';
const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];

/** Launches Chromium headless; gives up after `timeoutMs` (default 20 s). */
function launchChromium(timeoutMs = 20000) {
  return chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    args: LAUNCH_ARGS,
    timeout: timeoutMs,
  });
}

module.exports = { launchChromium };
