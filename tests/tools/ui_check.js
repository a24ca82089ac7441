#!/usr/bin/env node
// Headless-Chromium check of wsdiag's web viewer (--ui).
//
// Usage: node ui_check.js <page-url-with-token> <out-dir> [--big]
//            [--expect-exception NAME] [--filter TEXT] [--min-events N]
//
// Normal mode (the viewer of the demo capture: the sample chat's REST POST
// fails with 500 while the WebSocket path works): waits for the timeline
// (window.wsdiagUi.ready, then the end of the feed or the expected rows),
// then checks, in real Chromium, through the page's DOM:
//   - the rows, in seq order, include an HTTP row with data-status 500 and
//     WebSocket rows;
//   - typing "cc" in #filter-text keeps only the items that contain it (each
//     row's text, or the whole item in #detail), and clearing restores all;
//   - clicking the first finding of the whole diagnosis highlights timeline
//     rows and shows its action side by side: the failed REST attempt and
//     the WebSocket one that went through;
//   - clicking the 500 row shows its parsed exception (IntegrityError) in
//     #detail, with the raw page behind a toggle, as text;
//   - #export-har downloads a HAR that har-validator accepts.
// Writes <out-dir>/timeline.png, diagnosis.png, failing-exchange.png and
// export.har, prints one line of JSON (the summary) and exits 0.
//
// --big (the viewer of a capture of 100,000+ events): waits until the page
// has every event, times a text filter (value + input event until shown()
// changes), counts DOM nodes at the top and the end of the timeline, and
// fails if the count reaches 3000 or the filter takes 2000 ms or more.
//
// --socketio (the viewer of a capture of the Socket.IO chat of
// tests/dialect_apps): choosing "chat message" in #filter-type keeps the
// event and its ack; clicking the event shows, in #detail, its role
// (send), its correlation with a link to the ack, and its application
// payload without the envelope ({"room":"room-3","text":"cc"}, read by the
// server's dialect); following the link shows the ack (role reply).
// Writes <out-dir>/socketio-detail.png.
//
// --live-findings (the viewer of a running proxy, opened after the demo's
// REST POST failed): holds the page's /api/diagnosis requests, so only the
// feed's live findings can fill the panel, and checks that it lists the
// failure's finding under the live section's title ("Found live, as the
// failures happened"), with the expected exception,
// and that clicking it highlights its events; then lets the diagnosis
// through and checks that the whole diagnosis takes the live section's
// place, with the same finding. Writes <out-dir>/live-findings.png.
//
// On any failed check: a message on stderr with what the page showed, and
// exit code 1.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const EXECUTABLE = process.env.WSDIAG_CHROMIUM || '/usr/bin/chromium';
const TIMEOUT_MS = 20000;
const BIG_TIMEOUT_MS = Number(process.env.WSDIAG_UI_BIG_TIMEOUT_MS || 120000);
const MAX_NODES = 3000;
const MAX_FILTER_MS = 2000;
const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
];

class CheckFailed extends Error {}
function check(cond, message) {
  if (!cond) throw new CheckFailed(message);
}

function parseArgs(argv) {
  const opts = { big: false, expectException: 'IntegrityError', filter: null, minEvents: 100000, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--big') opts.big = true;
    else if (a === '--socketio') opts.socketio = true;
    else if (a === '--live-findings') opts.liveFindings = true;
    else if (a === '--expect-exception') opts.expectException = argv[++i];
    else if (a === '--filter') opts.filter = argv[++i];
    else if (a === '--min-events') opts.minEvents = Number(argv[++i]);
    else opts.positional.push(a);
  }
  return opts;
}

// The URL without its token, for messages.
function redactUrl(u) {
  return u.replace(/([?&]token=)[^&#]*/, '$1…');
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new CheckFailed(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// What the page shows, for failure messages.
async function pageState(page) {
  if (!page) return '<no page>';
  try {
    return await withTimeout(
      page.evaluate(() => ({
        ready: window.wsdiagUi ? window.wsdiagUi.ready : '<no wsdiagUi>',
        total: window.wsdiagUi ? window.wsdiagUi.total() : null,
        shown: window.wsdiagUi ? window.wsdiagUi.shown() : null,
        status: (document.getElementById('status') || {}).textContent,
        rowsInDom: document.querySelectorAll('#timeline .row').length,
        detail: ((document.getElementById('detail') || {}).innerText || '').slice(0, 400),
      })),
      3000,
      'reading the page state',
    );
  } catch (e) {
    return `<could not read the page: ${e.message}>`;
  }
}

// Scrolls the whole timeline from top to bottom and returns every row seen,
// in the order met (DOM order within each screen), then restores the scroll.
async function collectRows(page) {
  return page.evaluate(async () => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const tl = document.getElementById('timeline');
    const orig = tl.scrollTop;
    const wasBottom = orig + tl.clientHeight >= tl.scrollHeight - 2;
    const seen = new Map();
    const order = [];
    const step = Math.max(22, tl.clientHeight - 44);
    for (let y = 0; ; y += step) {
      tl.scrollTop = y;
      await frame();
      for (const r of tl.querySelectorAll('.row')) {
        const seq = Number(r.dataset.seq);
        if (!seen.has(seq)) {
          order.push(seq);
          seen.set(seq, {
            seq,
            kind: r.dataset.kind,
            status: r.dataset.status === undefined ? undefined : r.dataset.status,
            text: r.textContent,
            top: r.getBoundingClientRect().top + tl.scrollTop,
          });
        }
      }
      if (tl.scrollTop + tl.clientHeight >= tl.scrollHeight - 1 || y > tl.scrollHeight) break;
    }
    tl.scrollTop = wasBottom ? tl.scrollHeight : orig;
    await frame();
    return order.map((s) => seen.get(s));
  });
}

// Scrolls until the row matching `selector` is in the DOM; returns whether it is.
async function revealRow(page, selector) {
  return page.evaluate(async (sel) => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const tl = document.getElementById('timeline');
    if (tl.querySelector(sel)) return true;
    const step = Math.max(22, tl.clientHeight - 44);
    for (let y = 0; y <= tl.scrollHeight; y += step) {
      tl.scrollTop = y;
      await frame();
      const r = tl.querySelector(sel);
      if (r) {
        r.scrollIntoView({ block: 'center' });
        await frame();
        return true;
      }
    }
    return false;
  }, selector);
}

async function waitShownChange(page, before, timeout) {
  await page.waitForFunction((b) => window.wsdiagUi.shown() !== b, before, { timeout, polling: 20 });
  return page.evaluate(() => window.wsdiagUi.shown());
}

async function normal(page, url, outDir, opts) {
  const summary = { mode: 'normal', url: redactUrl(url) };
  await page.goto(url, { waitUntil: 'load', timeout: TIMEOUT_MS });
  await page
    .waitForFunction(() => window.wsdiagUi && window.wsdiagUi.ready === true, null, { timeout: TIMEOUT_MS, polling: 50 })
    .catch(() => {
      throw new CheckFailed(`window.wsdiagUi.ready did not become true within ${TIMEOUT_MS} ms`);
    });

  // The end of the feed ("finished"), or, for a live proxy, the expected rows.
  const deadline = Date.now() + TIMEOUT_MS;
  let rows;
  for (;;) {
    const finished = await page.evaluate(() => /\bfinished\b/.test(document.getElementById('status').textContent));
    rows = await collectRows(page);
    const has500 = rows.some((r) => r.kind === 'http' && r.status === '500');
    const hasWs = rows.some((r) => r.kind === 'ws');
    if (finished || (has500 && hasWs)) {
      summary.finished = finished;
      break;
    }
    if (Date.now() > deadline) throw new CheckFailed(`neither the end of the feed nor a 500 row and WebSocket rows within ${TIMEOUT_MS} ms`);
    await page.waitForTimeout(250);
  }
  summary.total = await page.evaluate(() => window.wsdiagUi.total());
  summary.shown = await page.evaluate(() => window.wsdiagUi.shown());
  summary.status = await page.evaluate(() => document.getElementById('status').textContent);
  summary.rows = rows.map((r) => ({ seq: r.seq, kind: r.kind, ...(r.status !== undefined ? { status: r.status } : {}) }));

  check(rows.length > 0, 'the timeline shows no rows');
  check(rows.length === summary.shown, `the timeline's DOM rows (${rows.length}) differ from wsdiagUi.shown() (${summary.shown})`);
  check(/\d+ of \d+/.test(summary.status), `#status does not say how many are shown: ${JSON.stringify(summary.status)}`);
  for (let i = 1; i < rows.length; i++) {
    check(rows[i].seq > rows[i - 1].seq, `rows out of seq order: ${rows[i - 1].seq} then ${rows[i].seq}`);
    check(rows[i].top > rows[i - 1].top, `row ${rows[i].seq} is not below row ${rows[i - 1].seq}`);
  }
  for (const r of rows) check(['http', 'ws', 'other'].includes(r.kind), `row ${r.seq} has data-kind ${JSON.stringify(r.kind)}`);
  const failing = rows.find((r) => r.kind === 'http' && r.status === '500');
  check(failing, `no http row with data-status 500 (rows: ${JSON.stringify(summary.rows)})`);
  check(rows.some((r) => r.kind === 'ws'), 'no WebSocket rows');
  check(summary.total >= rows.length, `wsdiagUi.total() (${summary.total}) is below the number of rows`);
  await page.screenshot({ path: path.join(outDir, 'timeline.png'), fullPage: true });

  // The text filter: message level, "cc" only.
  const text = opts.filter || 'cc';
  const before = summary.shown;
  await page.fill('#filter-text', text);
  const after = await waitShownChange(page, before, 5000).catch(() => {
    throw new CheckFailed(`typing ${JSON.stringify(text)} in #filter-text did not change wsdiagUi.shown() (${before})`);
  });
  check(after > 0 && after < before, `the filter ${JSON.stringify(text)} shows ${after} of ${before}`);
  const filtered = await collectRows(page);
  // A live feed can add matching rows meanwhile; a finished one cannot.
  const nowShown = await page.evaluate(() => window.wsdiagUi.shown());
  check(filtered.length === nowShown && (!summary.finished || nowShown === after), `${filtered.length} rows in the DOM after filtering, wsdiagUi.shown() says ${nowShown} (${after} at first)`);
  const needle = text.toLowerCase();
  for (const r of filtered) {
    if (r.text.toLowerCase().includes(needle)) continue;
    // The row shows a preview; the whole item is in the detail pane.
    check(await revealRow(page, `.row[data-seq="${r.seq}"]`), `filtered row ${r.seq} vanished`);
    await page.click(`#timeline .row[data-seq="${r.seq}"]`);
    const detail = await page.evaluate(() => document.getElementById('detail').textContent);
    check(detail.toLowerCase().includes(needle), `row ${r.seq} passes the filter ${JSON.stringify(text)} but neither it nor its detail contains it`);
  }
  check(filtered.some((r) => r.seq === failing.seq), `the failing POST (seq ${failing.seq}, body with "${text}") was filtered out`);
  check(filtered.some((r) => r.kind === 'ws'), `no WebSocket message matched ${JSON.stringify(text)}`);
  summary.filter = { text, shownBefore: before, shownAfter: after, seqs: filtered.map((r) => r.seq) };
  await page.fill('#filter-text', '');
  const restored = await waitShownChange(page, after, 5000).catch(() => -1);
  check(summary.finished ? restored === before : restored >= before, `clearing the filter shows ${restored}, not ${before}`);

  // The diagnosis: its first finding highlights the events it rests on.
  await page.evaluate(() => {
    const d = document.getElementById('diagnosis');
    if (d && d.tagName === 'DETAILS') d.open = true;
  });
  // The whole diagnosis's findings, not the live ones listed before it.
  const whole = '#diagnosis .finding:not([data-index^="live-"])';
  await page.waitForSelector(whole, { timeout: TIMEOUT_MS, state: 'visible' }).catch(() => {
    throw new CheckFailed('no .finding of the whole diagnosis in #diagnosis');
  });
  const findings = await page.$$eval(whole, (els) => els.map((e) => e.textContent.slice(0, 200)));
  const first = await page.$(whole);
  // Click the finding itself, away from its links and buttons.
  const box = await first.boundingBox();
  await page.mouse.click(box.x + Math.min(40, box.width / 2), box.y + 8);
  await page.waitForSelector('#timeline .row.highlight', { timeout: 5000 }).catch(() => {
    throw new CheckFailed('clicking the first finding highlighted no timeline row');
  });
  const highlighted = await page.$$eval('#timeline .row.highlight', (els) => els.map((e) => Number(e.dataset.seq)));
  // The finding's action, side by side: the failed REST attempt and the
  // WebSocket one that went through.
  const side = await page.evaluate(() => {
    const cols = [...document.querySelectorAll('#detail .side-by-side .col')];
    return cols.map((c) => ({ title: (c.querySelector('h3') || {}).textContent, text: c.innerText.slice(0, 400) }));
  });
  check(side.length === 2 && side[0].title === 'REST' && side[1].title === 'WebSocket', `#detail has no REST and WebSocket columns: ${JSON.stringify(side)}`);
  check(/failed/.test(side[0].text) && /succeeded/.test(side[1].text), `the side-by-side does not show the failed REST attempt and the WebSocket one that went through: ${JSON.stringify(side)}`);
  summary.diagnosis = { findings: findings.length, first: findings[0].replace(/\s+/g, ' ').slice(0, 120), highlighted, side };
  await page.screenshot({ path: path.join(outDir, 'diagnosis.png'), fullPage: true });

  // The failing exchange: its parsed exception, the raw page as text.
  check(await revealRow(page, '.row[data-kind="http"][data-status="500"]'), 'the 500 row is not reachable in the timeline');
  await page.click('#timeline .row[data-kind="http"][data-status="500"]');
  const want = opts.expectException;
  await page
    .waitForFunction((w) => (document.getElementById('detail').innerText || '').includes(w), want, { timeout: 5000 })
    .catch(() => {
      throw new CheckFailed(`#detail does not show the exception type ${want}`);
    });
  await page.screenshot({ path: path.join(outDir, 'failing-exchange.png'), fullPage: true });
  const raw = await page.evaluate(async () => {
    const t = document.getElementById('raw-toggle') || [...document.querySelectorAll('#detail button')].find((b) => /raw page/i.test(b.textContent));
    if (!t) return { toggle: false };
    const pres = () => [...document.querySelectorAll('#detail pre')].filter((p) => p.offsetParent !== null && /<html|<!doctype/i.test(p.textContent));
    const hiddenBefore = pres().length === 0;
    t.click();
    await new Promise((r) => requestAnimationFrame(r));
    const shown = pres();
    return { toggle: true, hiddenBefore, shownAfter: shown.length > 0, asText: shown.length > 0 && shown[0].children.length === 0 };
  });
  check(raw.toggle, '#detail has no "raw page" toggle for the failing exchange');
  check(raw.hiddenBefore, 'the raw page is shown before the toggle is clicked');
  check(raw.shownAfter && raw.asText, 'the raw page is not shown as text after the toggle');
  summary.failing = { seq: failing.seq, exception: want, rawPage: 'as text behind a toggle' };

  // The HAR export: a download, valid HAR 1.2.
  const harPath = path.join(outDir, 'export.har');
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: TIMEOUT_MS }), page.click('#export-har')]);
  await download.saveAs(harPath);
  const failure = await download.failure();
  check(!failure, `the HAR download failed: ${failure}`);
  let har;
  try {
    har = JSON.parse(fs.readFileSync(harPath, 'utf8'));
  } catch (e) {
    throw new CheckFailed(`the HAR download is not JSON: ${e.message}`);
  }
  const validate = require('har-validator');
  await validate.har(har).catch((e) => {
    throw new CheckFailed(`the HAR download is not valid HAR: ${JSON.stringify(e.errors || e.message)}`);
  });
  check(har.log && Array.isArray(har.log.entries) && har.log.entries.length > 0, 'the HAR has no entries');
  summary.har = { file: harPath, suggestedName: download.suggestedFilename(), entries: har.log.entries.length, valid: true };
  for (const [id, what] of [['#export-markdown', 'markdown'], ['#export-jsonl', 'jsonl']]) {
    const href = await page.$eval(id, (a) => a.href);
    check(href && href.includes(`/api/export/${what}`) && href.includes('token='), `${id} does not link to the ${what} export with the token`);
  }
  summary.screenshots = ['timeline.png', 'diagnosis.png', 'failing-exchange.png'].map((f) => path.join(outDir, f));
  return summary;
}

async function big(page, url, outDir, opts) {
  const summary = { mode: 'big', url: redactUrl(url) };
  const t0 = Date.now();
  await page.goto(url, { waitUntil: 'load', timeout: TIMEOUT_MS });
  await page
    .waitForFunction((n) => window.wsdiagUi && window.wsdiagUi.ready === true && window.wsdiagUi.total() >= n, opts.minEvents, {
      timeout: BIG_TIMEOUT_MS,
      polling: 100,
    })
    .catch(async () => {
      const total = await page.evaluate(() => (window.wsdiagUi ? window.wsdiagUi.total() : 0)).catch(() => 0);
      throw new CheckFailed(`the page had ${total} of ${opts.minEvents} events after ${BIG_TIMEOUT_MS} ms`);
    });
  summary.loadMs = Date.now() - t0;
  // Let the page settle (the end of the feed, if it comes).
  await page.waitForFunction(() => /\bfinished\b/.test(document.getElementById('status').textContent), null, { timeout: 10000 }).catch(() => {});
  summary.total = await page.evaluate(() => window.wsdiagUi.total());
  summary.shown = await page.evaluate(() => window.wsdiagUi.shown());
  summary.status = await page.evaluate(() => document.getElementById('status').textContent);
  check(summary.shown > 0, 'no rows shown');

  const nodes = () => page.evaluate(() => document.getElementsByTagName('*').length);
  const scroll = (where) =>
    page.evaluate(async (w) => {
      const tl = document.getElementById('timeline');
      tl.scrollTop = w === 'top' ? 0 : w === 'middle' ? tl.scrollHeight / 2 : tl.scrollHeight;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return document.querySelectorAll('#timeline .row').length;
    }, where);
  summary.domNodes = {};
  summary.rowsInDom = {};
  for (const w of ['top', 'middle', 'end']) {
    summary.rowsInDom[w] = await scroll(w);
    summary.domNodes[w] = await nodes();
  }
  const maxNodes = Math.max(...Object.values(summary.domNodes));
  check(maxNodes < MAX_NODES, `${maxNodes} DOM nodes with ${summary.total} events (limit ${MAX_NODES}): the list is not virtualized`);
  await page.screenshot({ path: path.join(outDir, 'big.png') });

  // The text filter over every event, timed in the page.
  const term =
    opts.filter ||
    (await page.evaluate(() => {
      // A msg_type from the timeline that not every row has.
      const names = [...document.querySelectorAll('#timeline .row[data-kind="ws"] .c-name')].map((e) => e.textContent);
      // Without one, a text no event holds: the filter still scans them all.
      return names.find((n) => n && n !== names[0]) || 'no-such-text-in-any-event';
    }));
  const timing = await page.evaluate(async (t) => {
    const frame = () => new Promise((r) => requestAnimationFrame(r));
    const input = document.getElementById('filter-text');
    const run = async (value) => {
      const before = window.wsdiagUi.shown();
      const start = performance.now();
      input.value = value;
      input.dispatchEvent(new Event('input', { bubbles: true }));
      const limit = start + 10000;
      while (window.wsdiagUi.shown() === before && performance.now() < limit) await new Promise((r) => setTimeout(r, 1));
      const filterMs = performance.now() - start;
      await frame();
      await frame();
      return { before, after: window.wsdiagUi.shown(), filterMs: Math.round(filterMs * 10) / 10, paintedMs: Math.round((performance.now() - start) * 10) / 10 };
    };
    const apply = await run(t);
    const rowsInDom = document.querySelectorAll('#timeline .row').length;
    const nodes = document.getElementsByTagName('*').length;
    const clear = await run('');
    return { term: t, apply, clear, rowsInDom, nodes };
  }, term);
  summary.filter = timing;
  check(timing.apply.after !== timing.apply.before, `filtering on ${JSON.stringify(term)} did not change the shown count (${timing.apply.before})`);
  check(timing.apply.filterMs < MAX_FILTER_MS, `filtering ${summary.total} events took ${timing.apply.filterMs} ms (limit ${MAX_FILTER_MS})`);
  check(timing.clear.after === summary.shown, `clearing the filter shows ${timing.clear.after}, not ${summary.shown}`);
  check(timing.nodes < MAX_NODES, `${timing.nodes} DOM nodes while filtered`);
  return summary;
}

async function socketio(page, url, outDir) {
  const summary = { mode: 'socketio', url: redactUrl(url) };
  await page.goto(url, { waitUntil: 'load', timeout: TIMEOUT_MS });
  await page.waitForFunction(() => window.wsdiagUi && window.wsdiagUi.ready === true && /\bfinished\b/.test(document.getElementById('status').textContent), null, { timeout: TIMEOUT_MS, polling: 50 });
  const options = await page.evaluate(() => [...document.querySelectorAll('#filter-type option')].map((o) => o.value));
  check(options.includes('chat message'), `#filter-type does not offer the Socket.IO event: ${JSON.stringify(options)}`);
  await page.selectOption('#filter-type', 'chat message');
  const rows = await collectRows(page);
  summary.rows = rows.map((r) => r.text);
  check(rows.length === 2, `"chat message" should keep the event and its ack, got ${rows.length}: ${JSON.stringify(summary.rows)}`);
  check(/chat message/.test(rows[0].text), `the row is not named after the event: ${rows[0].text}`);
  await page.click(`#timeline .row[data-seq="${rows[0].seq}"]`);
  await page.waitForFunction(() => /room-3/.test((document.getElementById('app-payload') || {}).innerText || ''), null, { timeout: TIMEOUT_MS, polling: 50 });
  const detail = await page.evaluate(() => document.getElementById('detail').innerText);
  summary.detail = detail.slice(0, 600);
  check(/Role\s+send/.test(detail), `the detail does not give the role send: ${summary.detail}`);
  const app = await page.evaluate(() => document.getElementById('app-payload').innerText);
  summary.payload = app;
  check(/room-3/.test(app) && /cc/.test(app) && !/chat message/.test(app), `the payload is not the event's argument: ${app}`);
  await page.screenshot({ path: path.join(outDir, 'socketio-detail.png') });
  const link = await page.$('#detail button.link');
  check(link, `no link to the correlated ack: ${summary.detail}`);
  await link.click();
  await page.waitForFunction(() => /Role\s+reply/.test(document.getElementById('detail').innerText), null, { timeout: TIMEOUT_MS, polling: 50 });
  return summary;
}

// The diagnosis panel: its headline, whether it has the live section, and
// its finding cards' codes and text.
async function diagnosisPanel(page) {
  return page.evaluate(() => ({
    headline: document.getElementById('diag-headline').textContent,
    live: !!document.querySelector('#diag-body .live-title'),
    findings: [...document.querySelectorAll('#diag-body .finding')].map((c) => ({ code: c.dataset.code, live: c.dataset.index.startsWith('live-'), text: c.textContent.slice(0, 300) })),
  }));
}

async function liveFindings(page, url, outDir, opts) {
  const summary = { mode: 'live-findings', url: redactUrl(url) };
  let release;
  const released = new Promise((resolve) => {
    release = resolve;
  });
  summary.held = 0;
  await page.route(/\/api\/diagnosis/, async (route) => {
    summary.held += 1;
    await released;
    await route.continue();
  });
  await page.goto(url, { waitUntil: 'load', timeout: TIMEOUT_MS });
  await page.evaluate(() => {
    document.getElementById('diagnosis').open = true;
  });
  const want = opts.expectException;
  const liveCard = (w) => [...document.querySelectorAll('#diag-body .finding')].some((c) => c.dataset.index.startsWith('live-') && c.textContent.includes(w));
  await page.waitForFunction(liveCard, want, { timeout: TIMEOUT_MS, polling: 50 }).catch(async () => {
    throw new CheckFailed(`no live finding with ${want} while the diagnosis was held: ${JSON.stringify(await diagnosisPanel(page))}`);
  });
  const live = await diagnosisPanel(page);
  summary.live = live;
  check(live.live, `the live finding is not under the live section's title: ${JSON.stringify(live)}`);
  check(/found live/.test(live.headline), `the headline does not say the findings were found live: ${live.headline}`);
  check(live.findings.every((f) => f.live), `a finding of the held diagnosis is shown: ${JSON.stringify(live)}`);
  await page.click('#diag-body .finding .finding-title');
  await page.waitForSelector('#timeline .row.highlight', { timeout: 5000 }).catch(() => {
    throw new CheckFailed('clicking the live finding highlighted no timeline row');
  });
  summary.highlighted = await page.$$eval('#timeline .row.highlight', (els) => els.map((e) => Number(e.dataset.seq)));
  await page.screenshot({ path: path.join(outDir, 'live-findings.png'), fullPage: true });

  release();
  const whole = (w) => {
    const cards = [...document.querySelectorAll('#diag-body .finding')];
    return !document.querySelector('#diag-body .live-title') && cards.some((c) => !c.dataset.index.startsWith('live-') && c.textContent.includes(w));
  };
  await page.waitForFunction(whole, want, { timeout: TIMEOUT_MS, polling: 50 }).catch(async () => {
    throw new CheckFailed(`the whole diagnosis did not take the live section's place: ${JSON.stringify(await diagnosisPanel(page))}`);
  });
  summary.whole = await diagnosisPanel(page);
  const codes = (p) => p.findings.map((f) => f.code).sort();
  check(JSON.stringify(codes(summary.whole)) === JSON.stringify(codes(live)), `the whole diagnosis's findings (${codes(summary.whole)}) differ from the live ones (${codes(live)})`);
  return summary;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const [url, outDir] = opts.positional;
  if (!url || !outDir) {
    process.stderr.write('usage: node ui_check.js <page-url-with-token> <out-dir> [--big]\n');
    return 2;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const consoleMessages = [];
  let browser;
  let page;
  let failNow;
  const failure = new Promise((_, reject) => {
    failNow = reject;
  });
  failure.catch(() => {});
  try {
    browser = await chromium.launch({ executablePath: EXECUTABLE, headless: true, args: LAUNCH_ARGS, timeout: TIMEOUT_MS });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('console', (msg) => {
      const loc = msg.location() || {};
      const entry = { type: msg.type(), text: msg.text(), url: redactUrl(loc.url || '') };
      consoleMessages.push(entry);
      const favicon = /favicon\.ico/.test(entry.url);
      if (entry.type === 'error' && !favicon) failNow(new CheckFailed(`console error on the page: ${entry.text}${entry.url ? ` (${entry.url})` : ''}`));
    });
    page.on('pageerror', (err) => failNow(new CheckFailed(`uncaught exception on the page: ${err.stack || err.message || err}`)));
    page.on('crash', () => failNow(new CheckFailed('the page crashed')));
    const run = opts.big ? big(page, url, outDir, opts) : opts.socketio ? socketio(page, url, outDir) : opts.liveFindings ? liveFindings(page, url, outDir, opts) : normal(page, url, outDir, opts);
    const summary = await Promise.race([failure, run]);
    summary.console = consoleMessages;
    summary.ok = true;
    process.stdout.write(JSON.stringify(summary) + '\n');
    await withTimeout(browser.close(), 10000, 'closing the browser').catch(() => {});
    return 0;
  } catch (err) {
    const state = await pageState(page);
    const msg = err instanceof CheckFailed ? err.message : (err && err.stack) || String(err);
    process.stderr.write(
      [
        `ui_check.js: FAILED (${opts.big ? 'big' : opts.socketio ? 'socketio' : opts.liveFindings ? 'live-findings' : 'normal'} mode, ${redactUrl(url)}): ${String(msg).replace(/\x1b\[[0-9;]*m/g, '')}`,
        `page state: ${JSON.stringify(state)}`,
        `console messages: ${JSON.stringify(consoleMessages)}`,
      ].join('\n') + '\n',
    );
    if (page) await page.screenshot({ path: path.join(outDir, 'failure.png'), fullPage: true }).catch(() => {});
    if (browser) await withTimeout(browser.close(), 10000, 'closing the browser').catch(() => {});
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`ui_check.js: FAILED: ${(err && err.stack) || err}\n`);
    process.exit(1);
  },
);
