// wsdiag live viewer: one timeline of REST exchanges and WebSocket messages,
// fed by Server-Sent Events from wsdiag itself, with filters, a detail pane,
// the live diagnosis and exports. Plain ES2020, no dependencies; every piece
// of captured data reaches the DOM through textContent, never as HTML.
'use strict';

(() => {
  const ROW_H = 22; // px, must match .row height in app.css
  const OVERSCAN = 12; // rows rendered above and below the visible ones
  const DIAG_EVERY_MS = 2000;
  const PREVIEW_CHARS = 160;
  const HEX_LIMIT = 64 * 1024;
  const MAX_LISTED = 50; // findings and actions listed in the diagnosis panel

  const TOKEN = new URLSearchParams(location.search).get('token') || '';
  const api = (path) => `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(TOKEN)}`;
  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- helpers

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function append(parent, ...children) {
    for (const c of children) if (c !== null && c !== undefined && c !== false) parent.append(c);
    return parent;
  }
  function button(text, cls, onClick, title) {
    const b = el('button', cls, text);
    b.type = 'button';
    if (title) b.title = title;
    b.addEventListener('click', onClick);
    return b;
  }
  function fmtDur(us) {
    if (us === undefined || us === null) return '';
    if (us < 1000) return `${Math.round(us)} µs`;
    if (us < 1e6) return `${(us / 1000).toFixed(us < 1e4 ? 2 : 1)} ms`;
    return `${(us / 1e6).toFixed(2)} s`;
  }
  function fmtSize(n) {
    if (n === undefined || n === null) return '';
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
    return `${(n / 1048576).toFixed(1)} MB`;
  }
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  let startMs = null; // capture start, ms since the epoch
  function parseStart(s) {
    if (typeof s !== 'string') return null;
    // Date.parse accepts at most millisecond precision reliably.
    const m = Date.parse(s.replace(/(\.\d{3})\d+/, '$1'));
    return Number.isFinite(m) ? m : null;
  }
  function fmtClock(t_us) {
    if (startMs === null) return `+${(t_us / 1e6).toFixed(3)} s`;
    const d = new Date(startMs + t_us / 1000);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }
  function b64Bytes(s) {
    try {
      const bin = atob(s);
      const out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out;
    } catch (_) {
      return new Uint8Array(0);
    }
  }
  const utf8 = new TextDecoder('utf-8', { fatal: false });
  function hexBytes(bytes, max) {
    const n = Math.min(bytes.length, max);
    const parts = new Array(n);
    for (let i = 0; i < n; i++) parts[i] = bytes[i].toString(16).padStart(2, '0');
    return parts.join(' ') + (bytes.length > max ? ' …' : '');
  }
  function hexDump(bytes) {
    const n = Math.min(bytes.length, HEX_LIMIT);
    const lines = [];
    for (let off = 0; off < n; off += 16) {
      const chunk = bytes.subarray(off, Math.min(off + 16, n));
      let hex = '';
      let ascii = '';
      for (let i = 0; i < 16; i++) {
        if (i < chunk.length) {
          hex += chunk[i].toString(16).padStart(2, '0') + ' ';
          ascii += chunk[i] >= 0x20 && chunk[i] < 0x7f ? String.fromCharCode(chunk[i]) : '.';
        } else hex += '   ';
        if (i === 7) hex += ' ';
      }
      lines.push(`${off.toString(16).padStart(8, '0')}  ${hex} |${ascii}|`);
    }
    if (bytes.length > n) lines.push(`… ${bytes.length - n} more bytes not shown`);
    return lines.join('\n');
  }
  // A close frame's payload: two big-endian bytes of code, then the reason.
  function closeInfo(ev) {
    const bytes = ev.base64 !== undefined ? b64Bytes(ev.base64) : new TextEncoder().encode(ev.text || '');
    if (bytes.length < 2) return { code: null, reason: '' };
    return { code: (bytes[0] << 8) | bytes[1], reason: utf8.decode(bytes.subarray(2)) };
  }
  function oneLine(s, n = PREVIEW_CHARS) {
    if (!s) return '';
    const t = s.length > n * 2 ? s.slice(0, n * 2) : s;
    const flat = t.replace(/\s+/g, ' ').trim();
    return flat.length > n ? flat.slice(0, n - 1) + '…' : flat;
  }
  function headerValue(headers, name) {
    if (!Array.isArray(headers)) return '';
    const h = headers.find((p) => Array.isArray(p) && String(p[0]).toLowerCase() === name);
    return h ? String(h[1]) : '';
  }
  function statusClass(s) {
    if (typeof s !== 'number') return 'st-err';
    return `st-${Math.floor(s / 100)}xx`;
  }
  function isErrorType(t) {
    return typeof t === 'string' && /error|fail|exception|denied|reject/i.test(t);
  }

  // ------------------------------------------------------------------ state

  const S = {
    header: null,
    trailer: null,
    received: 0, // events received (ingested + waiting while paused)
    ingested: 0,
    lastSeq: 0,
    rows: [], // every row, seq order
    heartbeats: 0, // heartbeat messages seen (hidden unless the role filter asks)
    visible: [], // rows passing the filters, seq order
    seqToRow: new Map(),
    exchanges: new Map(), // exchange id -> row
    conns: new Map(), // conn -> { peer, wsPath, option }
    msgTypes: new Set(),
    serverCount: 0,
    paused: false,
    pending: [], // batches received while paused
    follow: true,
    finished: false,
    ready: false,
    conn: 'connecting',
    selected: null,
    hlSeqs: new Set(),
    hlRows: new Set(),
    activeFinding: -1,
    diag: null,
    diagText: null,
    live: new Map(), // `${at}|${code}` -> live finding from the feed, newest word
    liveShown: [], // the live findings the panel lists, by card index
    diagError: null,
    errCache: new Map(), // exchange -> Promise<parsed error>
    lastAutoTop: -1,
    filterActive: false,
    refilterNeeded: false,
    renderQueued: false,
    countsDirty: true,
  };

  const F = { text: '', conn: null, dir: '', type: '', role: '', path: '', status: 0, errors: false };

  // ------------------------------------------------------------------- rows

  let nextRowId = 0;
  function newRow(kind, ev, fields) {
    const row = {
      id: nextRowId++,
      kind,
      seq: ev.seq,
      t_us: ev.t_us,
      conn: ev.conn,
      events: [ev],
      ev, // the row's first event
      req: null,
      resp: null,
      herr: null,
      hs: null,
      exchange: ev.exchange,
      hay: null,
      err: false,
      ver: 0,
    };
    if (fields) Object.assign(row, fields);
    S.rows.push(row);
    if (kind === 'ws' && ev.msg_role === 'heartbeat' && S.heartbeats++ === 0) S.filterActive = S.filterActive || !F.role;
    indexSeq(ev.seq, row);
    classify(row);
    if (passes(row)) S.visible.push(row);
    return row;
  }
  function indexSeq(seq, row) {
    S.seqToRow.set(seq, row);
    if (S.hlSeqs.has(seq)) S.hlRows.add(row);
  }
  function classify(row) {
    if (row.kind === 'http') {
      const st = httpStatus(row);
      row.err = !!row.herr || (typeof st === 'number' && st >= 400) || (!!row.hs && row.hs.accepted === false);
    } else if (row.kind === 'ws') {
      // The dialect's role says it; messages no dialect read fall back on
      // their name.
      row.err = row.ev.msg_role ? row.ev.msg_role === 'error' : isErrorType(row.ev.msg_type);
    } else if (row.ev.type === 'ws_close') {
      const c = row.ev.code;
      row.err = row.ev.clean === false || !!row.ev.error || (c !== undefined && c !== 1000 && c !== 1001 && c !== 1005);
    } else {
      row.err = row.ev.type === 'error' || row.ev.type === 'http_error';
    }
  }
  function httpStatus(row) {
    if (row.resp) return row.resp.status;
    if (row.herr) return typeof row.herr.status === 'number' ? row.herr.status : null;
    if (row.hs && !row.hs.accepted) return row.hs.status;
    return null;
  }
  function connInfo(conn) {
    let c = S.conns.get(conn);
    if (!c) {
      c = { peer: '', wsPath: '', option: null };
      S.conns.set(conn, c);
      const sel = $('filter-conn');
      c.option = el('option', null, `#${conn}`);
      c.option.value = String(conn);
      sel.append(c.option);
    }
    return c;
  }
  function updateConnLabel(conn) {
    const c = S.conns.get(conn);
    if (c && c.option) c.option.textContent = `#${conn}${c.wsPath ? ' ws ' + c.wsPath.split('?')[0] : ''}${c.peer ? ' (' + c.peer + ')' : ''}`;
  }
  function addMsgType(t) {
    if (typeof t !== 'string' || S.msgTypes.has(t)) return;
    S.msgTypes.add(t);
    const sel = $('filter-type');
    const opt = el('option', null, t);
    opt.value = t;
    let before = null;
    for (let i = 1; i < sel.options.length; i++) {
      if (sel.options[i].value > t) {
        before = sel.options[i];
        break;
      }
    }
    sel.insertBefore(opt, before);
  }

  // Adds a response, error or handshake to its exchange's row.
  function updateRow(row, ev, field) {
    const was = S.filterActive ? passes(row) : true;
    row.events.push(ev);
    row[field] = ev;
    indexSeq(ev.seq, row);
    row.hay = null;
    row.ver++;
    classify(row);
    if (S.filterActive && passes(row) !== was) S.refilterNeeded = true;
    if (row === S.selected) detailDirty = true;
  }

  function ingest(ev) {
    if (!ev || typeof ev !== 'object') return;
    if (ev.type === 'header') {
      setHeader(ev);
      return;
    }
    if (ev.type === 'trailer') {
      S.trailer = ev;
      return;
    }
    if (typeof ev.seq === 'number') {
      if (ev.seq <= S.lastSeq) return; // replayed after a reconnect
      S.lastSeq = ev.seq;
    }
    S.ingested++;
    if (ev.conn !== undefined) connInfo(ev.conn);
    switch (ev.type) {
      case 'conn_open':
        if (ev.conn !== undefined) {
          connInfo(ev.conn).peer = ev.peer || '';
          updateConnLabel(ev.conn);
        }
        break;
      case 'conn_close':
        break;
      case 'http_request': {
        const row = newRow('http', ev, { req: ev });
        if (ev.exchange !== undefined) S.exchanges.set(ev.exchange, row);
        break;
      }
      case 'http_response':
      case 'http_error':
      case 'ws_handshake': {
        const field = ev.type === 'http_response' ? 'resp' : ev.type === 'http_error' ? 'herr' : 'hs';
        if (ev.type === 'ws_handshake' && ev.conn !== undefined && ev.accepted) {
          connInfo(ev.conn).wsPath = ev.uri || '';
          updateConnLabel(ev.conn);
        }
        const row = S.exchanges.get(ev.exchange);
        if (row) updateRow(row, ev, field);
        else if (ev.exchange !== undefined) {
          // Its request is not in this capture (an export can have gaps).
          S.exchanges.set(ev.exchange, newRow('http', ev, { [field]: ev }));
        }
        break;
      }
      case 'ws_message':
        newRow('ws', ev);
        addMsgType(ev.msg_type);
        break;
      case 'ws_close':
      case 'error':
        newRow('other', ev);
        break;
      default:
        break; // unknown event types are counted, not shown
    }
  }

  function setHeader(h) {
    S.header = h;
    startMs = parseStart(h.started_at);
    const info = $('capture-info');
    const parts = [];
    if (h.upstream) parts.push(`upstream ${h.upstream}`);
    if (h.listen) parts.push(`listen ${h.listen}`);
    if (h.started_at) parts.push(`started ${h.started_at.replace('T', ' ').replace(/\.\d+/, '')}`);
    info.textContent = parts.join(' · ');
    info.title = JSON.stringify(h, null, 2);
  }

  // --------------------------------------------------------------- filters

  function rowPath(row) {
    if (row.kind === 'http') return (row.req && row.req.uri) || (row.hs && row.hs.uri) || '';
    const c = row.conn !== undefined ? S.conns.get(row.conn) : null;
    return c ? c.wsPath : '';
  }
  function payloadText(p) {
    if (!p) return '';
    if (typeof p.text === 'string') return p.text;
    if (typeof p.base64 === 'string') return utf8.decode(b64Bytes(p.base64));
    return '';
  }
  function haystack(row) {
    if (row.hay !== null) return row.hay;
    let s;
    if (row.kind === 'http') {
      const r = row.req;
      s = `${r ? r.method + ' ' + r.uri : ''}\n${r ? payloadText(r.body) : ''}\n${row.resp ? payloadText(row.resp.body) : ''}\n${row.herr ? row.herr.message || '' : ''}`;
    } else if (row.kind === 'ws') {
      const e = row.ev;
      s = e.opcode === 'close' ? closeInfo(e).reason : payloadText(e);
      if (e.msg_type) s = `${e.msg_type}\n${s}`;
    } else {
      const e = row.ev;
      s = `${e.type} ${e.reason || ''} ${e.error || ''} ${e.message || ''}`;
    }
    row.hay = s.toLowerCase();
    return row.hay;
  }
  function passes(row) {
    if (!S.filterActive) return true;
    if (F.conn !== null && row.conn !== F.conn) return false;
    if (F.dir) {
      if (row.kind !== 'ws') return false;
      if ((row.ev.dir === 'client_to_upstream') !== (F.dir === 'sent')) return false;
    }
    if (F.type && (row.kind !== 'ws' || row.ev.msg_type !== F.type)) return false;
    if (F.role && F.role !== 'all' && (row.kind !== 'ws' || row.ev.msg_role !== F.role)) return false;
    if (!F.role && row.kind === 'ws' && row.ev.msg_role === 'heartbeat') return false;
    if (F.status) {
      if (row.kind !== 'http') return false;
      const st = httpStatus(row);
      if (typeof st !== 'number' || Math.floor(st / 100) !== F.status) return false;
    }
    if (F.errors && !row.err) return false;
    if (F.path && !rowPath(row).toLowerCase().includes(F.path)) return false;
    if (F.text && !haystack(row).includes(F.text)) return false;
    return true;
  }
  function readFilters() {
    F.text = $('filter-text').value.trim().toLowerCase();
    const c = $('filter-conn').value;
    F.conn = c === '' ? null : Number(c);
    F.dir = $('filter-dir').value;
    F.type = $('filter-type').value;
    F.role = $('filter-role').value;
    F.path = $('filter-path').value.trim().toLowerCase();
    F.status = Number($('filter-status').value) || 0;
    F.errors = $('filter-errors').checked;
    // Heartbeats are hidden unless asked for, like the console's --heartbeats.
    const hidingHeartbeats = !F.role && S.heartbeats > 0;
    S.filterActive = !!(F.text || F.conn !== null || F.dir || F.type || (F.role && F.role !== 'all') || hidingHeartbeats || F.path || F.status || F.errors);
    for (const id of ['filter-text', 'filter-conn', 'filter-dir', 'filter-type', 'filter-role', 'filter-path', 'filter-status']) {
      $(id).classList.toggle('active', $(id).value !== '');
    }
  }
  function refilter() {
    S.refilterNeeded = false;
    S.visible = S.filterActive ? S.rows.filter(passes) : S.rows.slice();
  }
  function applyFilters() {
    readFilters();
    refilter();
    const tl = $('timeline');
    if (S.follow) {
      renderNow();
      scrollToBottom();
    } else {
      const idx = S.selected ? S.visible.indexOf(S.selected) : -1;
      if (idx >= 0) tl.scrollTop = Math.max(0, idx * ROW_H - tl.clientHeight / 3);
      else tl.scrollTop = Math.min(tl.scrollTop, Math.max(0, S.visible.length * ROW_H - tl.clientHeight));
    }
    renderNow();
  }
  function clearFilters() {
    $('filter-text').value = '';
    $('filter-conn').value = '';
    $('filter-dir').value = '';
    $('filter-type').value = '';
    $('filter-role').value = '';
    $('filter-path').value = '';
    $('filter-status').value = '';
    $('filter-errors').checked = false;
    applyFilters();
  }

  // -------------------------------------------------------------- timeline

  let detailDirty = false;
  let rendered = new Map(); // row id -> { el, ver, cls }

  function scheduleRender() {
    if (S.renderQueued) return;
    S.renderQueued = true;
    requestAnimationFrame(renderNow);
  }
  function renderNow() {
    S.renderQueued = false;
    if (S.refilterNeeded) refilter();
    const tl = $('timeline');
    const n = S.visible.length;
    $('timeline-spacer').style.height = `${n * ROW_H}px`;
    if (S.follow && n) scrollToBottom();
    const top = tl.scrollTop;
    const h = tl.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(n, Math.ceil((top + h) / ROW_H) + OVERSCAN);
    const box = $('timeline-rows');
    const next = new Map();
    const els = [];
    for (let i = first; i < last; i++) {
      const row = S.visible[i];
      const cls = rowClass(row);
      const old = rendered.get(row.id);
      let e;
      if (old && old.ver === row.ver) {
        e = old.el;
        if (old.cls !== cls) e.className = cls;
      } else {
        e = buildRow(row);
        e.className = cls;
      }
      e.style.transform = `translateY(${i * ROW_H}px)`;
      e.setAttribute('aria-selected', row === S.selected ? 'true' : 'false');
      next.set(row.id, { el: e, ver: row.ver, cls });
      els.push(e);
    }
    rendered = next;
    box.replaceChildren(...els);
    updateStatus();
    if (detailDirty && S.selected) {
      detailDirty = false;
      showRow(S.selected, true);
    }
  }
  function rowClass(row) {
    let c = `row k-${row.kind}`;
    if (row.err) c += ' err';
    if (row === S.selected) c += ' selected';
    if (S.hlRows.has(row)) c += ' highlight';
    return c;
  }
  function cell(cls, text, title) {
    const s = el('span', cls, text);
    if (title) s.title = title;
    return s;
  }
  function buildRow(row) {
    const r = el('div');
    r.dataset.seq = String(row.seq);
    r.dataset.kind = row.kind;
    r.setAttribute('role', 'option');
    const time = cell('c-time', fmtClock(row.t_us), `t_us ${row.t_us}`);
    const seq = cell('c-seq', row.seq);
    const conn = cell('c-conn', row.conn !== undefined ? `#${row.conn}` : '');
    if (row.kind === 'http') {
      const st = httpStatus(row);
      r.dataset.status = st === null ? '' : String(st);
      const req = row.req;
      const method = req ? req.method : row.hs ? 'GET' : '?';
      const uri = (req && req.uri) || (row.hs && row.hs.uri) || `exchange ${row.exchange}`;
      const upgrade = !!row.hs;
      let stText = st === null ? (row.herr ? 'failed' : 'pending') : String(st);
      if (upgrade) stText += row.hs.accepted ? ' ⇄ ws' : ' ws refused';
      if (row.herr) stText += ` ${row.herr.kind || 'error'}`;
      const size = row.resp && row.resp.body ? fmtSize(row.resp.body.len) : '';
      const dur = row.resp ? fmtDur(row.resp.duration_us) : row.herr ? fmtDur(row.herr.duration_us) : '';
      let preview = '';
      if (req && req.body && req.body.len) preview = oneLine(payloadText(req.body));
      if (row.resp && row.resp.body && row.resp.body.len) {
        const ct = headerValue(row.resp.headers, 'content-type');
        const rb = ct.includes('html') ? `${ct.split(';')[0]} page` : oneLine(payloadText(row.resp.body));
        preview = preview ? `${preview} ⟶ ${rb}` : rb;
      }
      if (row.herr) preview = row.herr.message || preview;
      append(
        r,
        seq,
        time,
        conn,
        cell(`c-kind method m-${method.toLowerCase()}`, method),
        cell('c-name', uri, uri),
        cell(`c-status ${st === null ? (row.herr ? 'st-err' : 'st-pending') : statusClass(st)}`, stText),
        cell('c-size', size),
        cell('c-dur', dur),
        cell('c-preview mono', preview),
      );
    } else if (row.kind === 'ws') {
      const e = row.ev;
      const sent = e.dir === 'client_to_upstream';
      let preview;
      if (e.opcode === 'close') {
        const ci = closeInfo(e);
        preview = ci.code === null ? '(no code)' : `${ci.code} ${ci.reason}`;
      } else if (e.base64 !== undefined) preview = hexBytes(b64Bytes(e.base64.slice(0, 64)), 32);
      else preview = oneLine(e.text || '');
      const name = (e.msg_type || (e.opcode === 'text' ? 'text' : e.opcode)) + (e.topic ? ` ${e.topic}` : '');
      let extra = e.opcode;
      if (e.forwarded === false) extra += ' · not forwarded';
      if (e.truncated) extra += ' · truncated';
      append(
        r,
        seq,
        time,
        conn,
        cell(`c-kind arrow ${sent ? 'sent' : 'recv'}`, sent ? '→' : '←', sent ? 'sent (client → upstream)' : 'received (upstream → client)'),
        cell(`c-name ${e.msg_type ? '' : 'muted'}`, name),
        cell('c-status muted', extra),
        cell('c-size', fmtSize(e.len)),
        cell('c-dur', ''),
        cell('c-preview mono', preview),
      );
    } else {
      const e = row.ev;
      let kind = '•';
      let name = e.type;
      let st = '';
      let preview = '';
      if (e.type === 'ws_close') {
        kind = '⨯';
        name = 'WebSocket closed';
        st = e.code !== undefined ? String(e.code) : e.clean === false ? 'abrupt' : '';
        preview = `by ${e.initiator || '?'}${e.reason ? ': ' + e.reason : ''}${e.clean === false ? ' · not clean' : ''}${e.error ? ' · ' + e.error : ''} · ${e.messages_sent ?? 0} sent, ${e.messages_received ?? 0} received`;
      } else if (e.type === 'error') {
        kind = '!';
        name = `error (${e.side || '?'} ${e.kind || ''})`;
        preview = e.message || '';
      }
      append(
        r,
        seq,
        time,
        conn,
        cell('c-kind other', kind),
        cell('c-name', name),
        cell(`c-status ${row.err ? 'st-err' : 'muted'}`, st),
        cell('c-size', ''),
        cell('c-dur', ''),
        cell('c-preview mono', preview),
      );
    }
    return r;
  }
  function scrollToBottom() {
    const tl = $('timeline');
    const target = Math.max(0, S.visible.length * ROW_H - tl.clientHeight);
    if (Math.abs(tl.scrollTop - target) > 1) {
      tl.scrollTop = target;
    }
    S.lastAutoTop = tl.scrollTop;
  }
  function setFollow(on) {
    S.follow = on;
    $('follow').checked = on;
  }
  function scrollToRow(row, where = 'center') {
    const idx = S.visible.indexOf(row);
    if (idx < 0) return false;
    const tl = $('timeline');
    const y = idx * ROW_H;
    if (where === 'nearest') {
      if (y < tl.scrollTop) tl.scrollTop = y;
      else if (y + ROW_H > tl.scrollTop + tl.clientHeight) tl.scrollTop = y + ROW_H - tl.clientHeight;
    } else {
      tl.scrollTop = Math.max(0, y - tl.clientHeight / 3);
    }
    const atBottom = tl.scrollTop + tl.clientHeight >= S.visible.length * ROW_H - ROW_H;
    if (!atBottom) setFollow(false);
    renderNow();
    return true;
  }
  function select(row, scroll) {
    S.selected = row;
    if (row && scroll) scrollToRow(row, 'nearest');
    renderNow();
    if (row) showRow(row, false);
  }

  // ---------------------------------------------------------------- status

  function updateStatus() {
    const st = $('status');
    const shown = S.visible.length;
    let txt = `${shown} of ${S.rows.length} items shown · ${S.received} events`;
    let state;
    if (S.finished) state = 'finished';
    else if (S.conn === 'connecting') state = 'connecting…';
    else if (S.conn === 'reconnecting') state = 'reconnecting…';
    else if (S.conn === 'lost') state = 'connection lost, retrying';
    else if (S.conn === 'failed') state = `feed failed: ${S.failMsg}; retrying`;
    else state = 'live';
    if (S.paused) state += ` · paused (${S.pending.reduce((a, b) => a + b.length, 0)} new)`;
    const lag = S.serverCount - S.received;
    if (!S.finished && lag > 0) state += ` · feed lagging by ${lag} events`;
    txt += ` · ${state}`;
    if (st.textContent !== txt) st.textContent = txt;
    st.className = S.finished ? 'finished' : lag > 0 && !S.finished ? 'lagging' : S.conn === 'open' ? 'live' : 'waiting';
    const extra = [];
    if (S.filterActive) extra.push('filtered');
    if (S.hlRows.size) extra.push(`${S.hlRows.size} highlighted (Esc clears)`);
    if (!S.follow && !S.finished) extra.push('follow off');
    $('status-extra').textContent = extra.join(' · ');
  }

  // ------------------------------------------------------------- detail pane

  function section(title, open = true, count) {
    const d = el('details', 'sec');
    d.open = open;
    const s = el('summary', null, title);
    if (count !== undefined) append(s, el('span', 'count', ` ${count}`));
    d.append(s);
    return d;
  }
  function kvTable(pairs) {
    const t = el('table', 'kv');
    for (const [k, v] of pairs) {
      if (v === undefined || v === null || v === '') continue;
      const tr = el('tr');
      append(tr, el('th', null, k));
      const td = el('td');
      if (v instanceof Node) td.append(v);
      else td.textContent = String(v);
      tr.append(td);
      t.append(tr);
    }
    return t;
  }
  function headersTable(headers) {
    const t = el('table', 'kv headers');
    for (const h of headers || []) {
      const tr = el('tr');
      append(tr, el('th', null, h[0]), el('td', 'mono', h[1]));
      t.append(tr);
    }
    return t;
  }

  // JSON tree: objects and arrays fold; closed branches are built on first open.
  function countNodes(v, limit) {
    let n = 0;
    const stack = [v];
    while (stack.length && n < limit) {
      const x = stack.pop();
      n++;
      if (x && typeof x === 'object') for (const k in x) stack.push(x[k]);
    }
    return n;
  }
  function jsonTree(value) {
    const openDepth = countNodes(value, 400) < 400 ? 99 : 2;
    const root = el('div', 'jt mono');
    root.append(jsonNode(null, value, 0, openDepth, true));
    return root;
  }
  function jsonLeaf(v) {
    if (v === null) return el('span', 'j-null', 'null');
    switch (typeof v) {
      case 'string':
        return el('span', 'j-str', JSON.stringify(v));
      case 'number':
        return el('span', 'j-num', String(v));
      case 'boolean':
        return el('span', 'j-bool', String(v));
      default:
        return el('span', null, String(v));
    }
  }
  function jsonNode(key, v, depth, openDepth, last) {
    const keyEl = key === null ? null : el('span', typeof key === 'number' ? 'j-idx' : 'j-key', typeof key === 'number' ? `${key}: ` : `${JSON.stringify(key)}: `);
    const comma = last ? null : el('span', 'j-punct', ',');
    if (v === null || typeof v !== 'object') {
      return append(el('div', 'j-line'), keyEl, jsonLeaf(v), comma);
    }
    const isArr = Array.isArray(v);
    const keys = isArr ? null : Object.keys(v);
    const n = isArr ? v.length : keys.length;
    const [o, c] = isArr ? ['[', ']'] : ['{', '}'];
    if (n === 0) return append(el('div', 'j-line'), keyEl, el('span', 'j-punct', o + c), comma);
    const d = el('details', 'j-node');
    const sum = el('summary', 'j-line');
    append(sum, keyEl, el('span', 'j-punct', o), el('span', 'j-fold', ` ${n} ${isArr ? (n === 1 ? 'item' : 'items') : n === 1 ? 'key' : 'keys'} ${c}`), comma && el('span', 'j-fold', ','));
    d.append(sum);
    let built = false;
    const build = () => {
      if (built) return;
      built = true;
      const body = el('div', 'j-children');
      if (isArr) v.forEach((x, i) => body.append(jsonNode(i, x, depth + 1, openDepth, i === n - 1)));
      else keys.forEach((k, i) => body.append(jsonNode(k, v[k], depth + 1, openDepth, i === n - 1)));
      d.append(body, append(el('div', 'j-line j-close'), el('span', 'j-punct', c), comma));
    };
    if (depth < openDepth) {
      build();
      d.open = true;
    }
    d.addEventListener('toggle', () => {
      if (d.open) build();
    });
    return d;
  }
  function tryJson(text) {
    const t = text.trim();
    if (!t || (t[0] !== '{' && t[0] !== '[' && t[0] !== '"')) return undefined;
    try {
      return JSON.parse(t);
    } catch (_) {
      return undefined;
    }
  }
  function renderPayload(p, contentType) {
    const wrap = el('div', 'payload');
    if (!p || (!p.len && !p.text && !p.base64)) {
      wrap.append(el('span', 'muted', '(empty)'));
      return wrap;
    }
    const kept = p.text !== undefined ? new TextEncoder().encode(p.text).length : p.base64 !== undefined ? Math.floor((p.base64.length * 3) / 4) : 0;
    if (p.truncated) wrap.append(el('div', 'note', `truncated: ${fmtSize(kept)} kept of ${fmtSize(p.len)} (--body-limit)`));
    if (typeof p.text === 'string') {
      const j = p.truncated ? undefined : tryJson(p.text);
      if (j !== undefined && typeof j === 'object' && j !== null) {
        const tree = jsonTree(j);
        const raw = el('pre', 'raw mono', p.text);
        raw.hidden = true;
        const tog = button('raw', 'small', () => {
          raw.hidden = !raw.hidden;
          tree.hidden = !raw.hidden;
          tog.textContent = raw.hidden ? 'raw' : 'tree';
        }, 'Switch between the folding tree and the text as sent');
        append(wrap, append(el('div', 'payload-tools'), el('span', 'muted', `JSON · ${fmtSize(p.len)}`), tog), tree, raw);
      } else {
        append(wrap, el('div', 'payload-tools muted', `${contentType ? contentType.split(';')[0] + ' · ' : ''}text · ${fmtSize(p.len)}`), el('pre', 'raw mono', p.text));
      }
    } else if (typeof p.base64 === 'string') {
      const bytes = b64Bytes(p.base64);
      append(wrap, el('div', 'payload-tools muted', `binary · ${fmtSize(p.len)} · hex`), el('pre', 'hex mono', hexDump(bytes)));
    }
    return wrap;
  }

  function detailHead(titleParts, cls) {
    const h = el('div', `detail-head ${cls || ''}`);
    for (const p of titleParts) h.append(p);
    return h;
  }

  function showRow(row, refresh) {
    const d = $('detail');
    const scroll = refresh ? d.scrollTop : 0;
    const openState = refresh ? [...d.querySelectorAll('details.sec')].map((x) => x.open) : null;
    const frag = document.createDocumentFragment();
    if (row.kind === 'http') detailHttp(row, frag);
    else if (row.kind === 'ws') detailWs(row, frag);
    else detailOther(row, frag);
    const raw = section('Raw events', false, row.events.length);
    for (const e of row.events) raw.append(jsonTree(e));
    frag.append(raw);
    d.replaceChildren(frag);
    if (openState) {
      const secs = d.querySelectorAll('details.sec');
      if (secs.length === openState.length) secs.forEach((x, i) => (x.open = openState[i]));
    }
    d.scrollTop = scroll;
  }

  function seqLinks(seqs) {
    const s = el('span', 'seqs');
    seqs.forEach((q, i) => {
      if (i) s.append(', ');
      const a = el('a', 'seq-link', String(q));
      a.href = '#';
      a.title = 'Show this event in the timeline';
      a.addEventListener('click', (ev) => {
        ev.preventDefault();
        ev.stopPropagation();
        goToSeq(q);
      });
      s.append(a);
    });
    return s;
  }
  function goToSeq(q) {
    const row = S.seqToRow.get(q);
    if (!row) return;
    if (S.visible.indexOf(row) < 0) clearFilters();
    select(row, true);
    scrollToRow(row);
  }

  function detailHttp(row, frag) {
    const req = row.req;
    const st = httpStatus(row);
    const method = req ? req.method : '?';
    const uri = (req && req.uri) || (row.hs && row.hs.uri) || '';
    frag.append(
      detailHead([
        el('span', `method m-${method.toLowerCase()}`, method),
        el('span', 'title mono', uri),
        el('span', `badge ${st === null ? (row.herr ? 'st-err' : 'st-pending') : statusClass(st)}`, st === null ? (row.herr ? 'failed' : 'pending') : String(st)),
      ]),
    );
    const durUs = row.resp ? row.resp.duration_us : row.herr ? row.herr.duration_us : undefined;
    frag.append(
      kvTable([
        ['Exchange', row.exchange],
        ['Connection', row.conn !== undefined ? `#${row.conn}${S.conns.get(row.conn) && S.conns.get(row.conn).peer ? ' from ' + S.conns.get(row.conn).peer : ''}` : ''],
        ['Time', `${fmtClock(row.t_us)} (t_us ${row.t_us})`],
        ['Duration', fmtDur(durUs)],
        ['Version', req && req.version],
        ['Forwarded Host', req && req.forwarded_host],
        ['Events (seq)', seqLinks(row.events.map((e) => e.seq))],
      ]),
    );
    if (row.herr) {
      const h = row.herr;
      const box = el('div', 'errbox');
      append(box, el('div', 'exc-type', `${h.side || '?'} ${h.kind || 'error'}${typeof h.status === 'number' ? ' → ' + h.status : ''}`), el('div', 'exc-value', h.message || ''));
      frag.append(box);
    }
    const failing = typeof st === 'number' && st >= 400 && row.resp;
    let rawToggleTarget = null;
    if (failing) {
      const box = el('div', 'errbox pending-parse');
      box.append(el('div', 'muted', 'parsing the error page…'));
      frag.append(box);
      rawToggleTarget = box;
      parsedError(row.exchange).then(
        (res) => fillErrorBox(box, row, res && res.error),
        (err) => fillErrorBox(box, row, null, err),
      );
    }
    if (row.hs) {
      const hs = row.hs;
      const sec = section('WebSocket handshake');
      const connBtn =
        hs.accepted && row.conn !== undefined
          ? button(`Show connection #${row.conn} only`, 'small', () => {
              $('filter-conn').value = String(row.conn);
              applyFilters();
            })
          : null;
      append(
        sec,
        kvTable([
          ['Upstream answered', hs.status],
          ['Accepted', hs.accepted ? 'yes' : 'no'],
          ['Subprotocols offered', hs.subprotocols_offered && hs.subprotocols_offered.join(', ')],
          ['Subprotocol', hs.subprotocol],
          ['Extensions dropped', hs.extensions_dropped && hs.extensions_dropped.join(', ')],
        ]),
        connBtn,
      );
      frag.append(sec);
    }
    if (req) {
      const ct = headerValue(req.headers, 'content-type');
      frag.append(append(section('Request headers', true, (req.headers || []).length), headersTable(req.headers)));
      frag.append(append(section('Request body', true, fmtSize(req.body && req.body.len)), renderPayload(req.body, ct)));
    }
    if (row.resp) {
      const resp = row.resp;
      const ct = headerValue(resp.headers, 'content-type');
      frag.append(append(section('Response headers', true, (resp.headers || []).length), headersTable(resp.headers)));
      const bodySec = section('Response body', true, fmtSize(resp.body && resp.body.len));
      const bodyText = payloadText(resp.body);
      const isHtml = ct.includes('html') || (!ct && /^\s*</.test(bodyText));
      if (isHtml) {
        // Error pages: the parsed error above; the page itself as text, one click away.
        const pre = el('pre', 'raw mono rawpage', bodyText);
        pre.hidden = true;
        const tog = button('raw page', 'small raw-toggle', () => {
          pre.hidden = !pre.hidden;
          tog.textContent = pre.hidden ? 'raw page' : 'hide raw page';
        }, 'The response body as received, shown as text');
        tog.id = 'raw-toggle';
        append(bodySec, append(el('div', 'payload-tools muted', `${ct.split(';')[0] || 'body'} · ${fmtSize(resp.body && resp.body.len)} `), tog), pre);
        if (resp.body && resp.body.truncated) bodySec.append(el('div', 'note', 'truncated (--body-limit)'));
        if (rawToggleTarget) rawToggleTarget.rawPre = pre;
      } else {
        bodySec.append(renderPayload(resp.body, ct));
      }
      frag.append(bodySec);
    }
  }
  function parsedError(exchange) {
    let p = S.errCache.get(exchange);
    if (!p) {
      p = fetch(api(`api/exchange/${encodeURIComponent(exchange)}`), { cache: 'no-store' }).then((r) => {
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        return r.json();
      });
      p.catch(() => S.errCache.delete(exchange));
      S.errCache.set(exchange, p);
    }
    return p;
  }
  function fillErrorBox(box, row, error, fetchErr) {
    box.classList.remove('pending-parse');
    box.replaceChildren();
    if (!error) {
      box.classList.add('plain');
      box.append(el('div', 'muted', fetchErr ? `could not parse the error (${fetchErr.message}); see the raw page below` : 'no parsed error for this response; see the body below'));
      if (box.rawPre) box.rawPre.hidden = false;
      return;
    }
    append(box, el('div', 'errkind', error.kind === 'generic_500' ? 'server error page' : error.kind === 'drf' ? 'Django REST framework' : error.kind || 'error'));
    if (error.exception_type) box.append(el('div', 'exc-type', error.exception_type));
    if (error.exception_value) box.append(el('div', 'exc-value mono', error.exception_value));
    if (!error.exception_type && !error.exception_value && error.summary) box.append(el('div', 'exc-value mono', error.summary));
    const f = error.frame;
    if (f) {
      const loc = el('div', 'exc-frame mono');
      append(loc, el('span', 'muted', 'at '), el('span', 'file', `${f.file}:${f.line}`), el('span', 'muted', ' in '), el('span', 'fn', `${f.function}()`));
      box.append(loc);
      if (f.source) box.append(el('pre', 'exc-source mono', f.source));
    }
    if (box.rawPre) {
      const pre = box.rawPre;
      const b = button('raw page', 'small', () => {
        pre.hidden = !pre.hidden;
        const t = $('raw-toggle');
        if (t) t.textContent = pre.hidden ? 'raw page' : 'hide raw page';
        if (!pre.hidden) pre.scrollIntoView({ block: 'nearest' });
      }, 'The response body as received, shown as text');
      box.append(append(el('div', 'errbox-tools'), b));
    }
  }

  function detailWs(row, frag) {
    const e = row.ev;
    const sent = e.dir === 'client_to_upstream';
    const c = row.conn !== undefined ? S.conns.get(row.conn) : null;
    frag.append(
      detailHead([
        el('span', `arrow ${sent ? 'sent' : 'recv'}`, sent ? '→' : '←'),
        el('span', 'title', e.msg_type || e.opcode),
        el('span', 'badge muted', sent ? 'sent' : 'received'),
      ]),
    );
    const pairs = [
      ['Direction', sent ? 'client → upstream (sent)' : 'upstream → client (received)'],
      ['Connection', row.conn !== undefined ? `#${row.conn}${c && c.wsPath ? ' ' + c.wsPath : ''}` : ''],
      ['Time', `${fmtClock(e.t_us)} (t_us ${e.t_us})`],
      ['Seq', e.seq],
      ['Opcode', e.opcode],
      ['msg_type', e.msg_type],
      ['Role', e.msg_role],
      ['Topic', e.topic],
      ['Correlation', e.correlation !== undefined ? correlated(row) : ''],
      ['Note', e.note],
      ['Transport', e.polling ? `Engine.IO long-polling (session ${e.polling})` : ''],
      ['Length', `${e.len} bytes${e.truncated ? ' (truncated)' : ''}`],
      ['Forwarded', e.forwarded === false ? 'no — not delivered' : ''],
    ];
    if (e.opcode === 'close') {
      const ci = closeInfo(e);
      pairs.push(['Close code', ci.code], ['Close reason', ci.reason]);
    }
    frag.append(kvTable(pairs));
    if (e.opcode === 'text' || e.opcode === 'binary') {
      // The application payload without the protocol's envelope, as the
      // server's dialect reads it; the frame itself follows.
      const app = append(section('Application payload', true), el('span', 'muted', 'reading…'));
      app.id = 'app-payload';
      frag.append(app);
      appPayload(e.seq).then((m) => {
        app.lastChild.remove();
        if (m.payload === null || m.payload === undefined) app.append(el('span', 'muted', m.dialect ? `(none: the ${m.dialect} message carries no payload)` : '(no dialect read this message)'));
        else append(app, el('div', 'payload-tools muted', m.dialect ? `${m.dialect} payload` : 'payload'), jsonTree(m.payload));
      }).catch((err) => {
        app.lastChild.textContent = `could not read the payload: ${err.message}`;
      });
    }
    frag.append(append(section(e.opcode === 'text' || e.opcode === 'binary' ? 'Frame' : 'Payload', true, fmtSize(e.len)), renderPayload(e)));
  }

  /// The message's correlation id, then a link to each other message of the
  /// same connection (or Engine.IO session) with that id: its reply, or what
  /// it answers.
  function correlated(row) {
    const e = row.ev;
    const span = el('span', null, String(e.correlation));
    const same = (o) => o !== row && o.kind === 'ws' && o.ev.correlation === e.correlation &&
      (e.polling ? o.ev.polling === e.polling : o.conn === row.conn) && o.ev.dir !== e.dir;
    for (const other of S.rows.filter(same).slice(0, 8)) {
      const label = `${other.ev.dir === 'client_to_upstream' ? '→' : '←'} ${other.ev.msg_type || other.ev.opcode} (seq ${other.ev.seq})`;
      span.append(' ', button(label, 'small link', () => select(other, true), 'Show the correlated message'));
    }
    return span;
  }
  function appPayload(seq) {
    return fetch(api(`api/message/${encodeURIComponent(seq)}`), { cache: 'no-store' }).then((r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return r.json();
    });
  }

  function detailOther(row, frag) {
    const e = row.ev;
    frag.append(detailHead([el('span', 'title', e.type === 'ws_close' ? 'WebSocket closed' : e.type), row.err ? el('span', 'badge st-err', 'error') : null].filter(Boolean)));
    const pairs = [];
    for (const k of Object.keys(e)) {
      const v = e[k];
      pairs.push([k, typeof v === 'object' && v !== null ? JSON.stringify(v) : v]);
    }
    frag.append(kvTable(pairs));
  }

  // ------------------------------------------------------------- diagnosis

  function attemptLabel(a) {
    return a.path === 'rest' ? `${a.method || '?'} ${a.endpoint}` : `${a.msg_type || 'message'} ${a.endpoint}`;
  }
  function outcomeText(o) {
    if (!o) return '';
    if (o.result === 'succeeded') return 'succeeded';
    if (o.result === 'failed') return `failed${o.reason ? ': ' + o.reason : o.status ? ' (' + o.status + ')' : ''}`;
    return o.result || '';
  }
  function outcomeEvidence(o) {
    if (!o || o.evidence === undefined || o.evidence === null) return [];
    return Array.isArray(o.evidence) ? o.evidence : [o.evidence];
  }

  // The diagnosis is computed by wsdiag over the whole capture: fetched once
  // the replay has caught up, then 2 s after each answer while live and only
  // when new events came, never two at a time. wsdiag paces it on a large
  // capture (it holds the request until its cost budget allows).
  const diagState = { inFlight: false, again: false, seen: -1, started: false };
  async function loadDiagnosis(force) {
    if (diagState.inFlight) {
      diagState.again = true;
      return;
    }
    if (!force && S.received === diagState.seen) return;
    diagState.inFlight = true;
    const seen = S.received;
    try {
      const r = await fetch(api('api/diagnosis'), { cache: 'no-store' });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const text = await r.text();
      diagState.seen = seen;
      const hadError = S.diagError !== null;
      S.diagError = null;
      if (text !== S.diagText) {
        S.diagText = text;
        S.diag = JSON.parse(text);
        // The live findings it covers are its own now.
        const covers = typeof S.diag.covers === 'number' ? S.diag.covers : 0;
        for (const [key, x] of S.live) if (x.at <= covers) S.live.delete(key);
        renderDiagnosis();
      } else if (hadError) renderDiagnosis();
    } catch (err) {
      if (S.diagError !== String(err.message)) {
        S.diagError = String(err.message);
        renderDiagnosis();
      }
    } finally {
      diagState.inFlight = false;
      if (diagState.again) {
        diagState.again = false;
        loadDiagnosis(false);
      }
    }
  }
  function diagTimer() {
    if (S.finished) return;
    if (document.visibilityState === 'visible') loadDiagnosis(false);
    setTimeout(diagTimer, DIAG_EVERY_MS);
  }
  function startDiagnosis() {
    if (diagState.started) return;
    diagState.started = true;
    loadDiagnosis(true);
    if (!S.finished) setTimeout(diagTimer, DIAG_EVERY_MS);
  }

  // The live diagnosis's findings come with the feed (a proxy with --ui),
  // within a flush of their failing event; each replaces the codes it
  // revises under the same event. The panel lists those under events the
  // last whole diagnosis had not seen yet (its `covers`), below its own.
  function takeLiveFindings(list) {
    for (const x of list) {
      if (!x || typeof x.at !== 'number' || !x.finding) continue;
      for (const code of x.revises || []) S.live.delete(`${x.at}|${code}`);
      S.live.set(`${x.at}|${x.finding.code}`, x);
    }
    renderDiagnosis();
  }
  function liveSince(covers) {
    const shown = [];
    for (const x of S.live.values()) if (x.at > covers) shown.push(x);
    shown.sort((a, b) => a.at - b.at);
    // Its action is the live window's, not the report's: no side-by-side.
    return shown.map((x) => Object.assign({}, x.finding, { action: null }));
  }
  function liveBlock(frag, live, title) {
    S.liveShown = live;
    if (!live.length) return;
    frag.append(el('div', 'live-title', title));
    live.slice(0, MAX_LISTED).forEach((f, k) => frag.append(findingCard(f, `live-${k}`)));
    if (live.length > MAX_LISTED) frag.append(el('p', 'muted', `… and ${live.length - MAX_LISTED} more`));
  }
  const plural = (n, one) => (n === 1 ? `1 ${one}` : `${n} ${one}s`);

  function renderDiagnosis() {
    const body = $('diag-body');
    const head = $('diag-headline');
    const d = S.diag;
    if (!d) {
      const live = liveSince(0);
      if (!live.length) {
        head.textContent = S.diagError ? `unavailable (${S.diagError})` : 'loading…';
        return;
      }
      head.textContent = `${plural(live.length, 'finding')} so far, found live · ${S.diagError ? `the whole diagnosis failed: ${S.diagError}` : 'the whole diagnosis is on its way'}`;
      head.className = 'has-findings';
      const frag = document.createDocumentFragment();
      liveBlock(frag, live, 'Found live, as the failures happened (the whole capture is being diagnosed)');
      body.replaceChildren(frag);
      return;
    }
    const live = liveSince(typeof d.covers === 'number' ? d.covers : 0);
    // wsdiag sends what the panel shows (src/ui/panel.rs): the first
    // findings and actions, each action's tally and the attempts to show
    // side by side, and the counts of the rest.
    const findings = d.findings || [];
    const findingsTotal = d.findings_total || findings.length;
    const counts = d.attempts || { total: 0, rest: 0, ws: 0 };
    const actions = d.actions || {};
    const listed = Object.keys(actions)
      .map(Number)
      .sort((a, b) => a - b)
      .slice(0, MAX_LISTED);
    head.textContent = `${findingsTotal === 0 ? 'no send path failed' : plural(findingsTotal, 'finding')} · ${counts.total} send attempts (${counts.rest} REST, ${counts.ws} WebSocket)${live.length ? ` · ${live.length} more found live since` : ''}${S.diagError ? ` · refresh failed: ${S.diagError}` : ''}`;
    head.className = findingsTotal || live.length ? 'has-findings' : 'muted';
    const frag = document.createDocumentFragment();
    if (!findingsTotal && !live.length) frag.append(el('p', 'muted', counts.total ? 'Every send attempt went through.' : 'No send attempts yet: send a message over REST or the WebSocket through the proxy.'));
    findings.forEach((f, i) => frag.append(findingCard(f, i)));
    if (findingsTotal > findings.length) frag.append(el('p', 'muted', `… and ${findingsTotal - findings.length} more findings (see the Markdown export)`));
    liveBlock(frag, live, 'Found live since this diagnosis (it is made again shortly)');
    if (listed.length) {
      const list = el('div', 'actions');
      list.append(el('div', 'actions-title', 'Actions (the same content sent both ways)'));
      for (const ai of listed) {
        const a = actions[ai];
        const item = el('div', 'action');
        item.tabIndex = 0;
        append(item, el('span', 'action-content mono', JSON.stringify(a.content)), a.conversation ? el('span', 'muted', ` in conversation ${a.conversation}`) : null);
        // One pill per path and outcome, with a count: an action can have thousands of attempts.
        for (const t of a.tally || []) {
          const p = t.path === 'rest' ? 'REST' : 'WS';
          const mark = t.result === 'succeeded' ? '✓' : t.result === 'failed' ? '✗' : '?';
          item.append(el('span', `pill ${t.result === 'failed' ? 'bad' : t.result === 'succeeded' ? 'good' : 'unknown'}`, `${p} ${mark}${t.count > 1 ? ' ×' + t.count : ''}`));
        }
        const open = () => {
          const f = findings.find((x) => x.action === ai);
          showAction(ai, f ? f.comparison : null, f);
          highlightSeqs(f && Array.isArray(f.evidence) ? f.evidence : (a.shown || []).flatMap((p) => [p.seq, ...outcomeEvidence(p.outcome)]));
        };
        item.addEventListener('click', open);
        item.addEventListener('keydown', (ev) => ev.key === 'Enter' && open());
        list.append(item);
      }
      const total = d.actions_total || listed.length;
      if (total > listed.length) list.append(el('div', 'muted', `… and ${total - listed.length} more actions (see the Markdown export)`));
      frag.append(list);
    }
    body.replaceChildren(frag);
  }

  function findingCard(f, i) {
    const card = el('div', `finding path-${f.path}${i === S.activeFinding ? ' active' : ''}`);
    card.tabIndex = 0;
    card.dataset.index = String(i);
    card.dataset.code = f.code;
    const head = el('div', 'finding-head');
    append(head, el('span', `code`, f.code), el('span', `pill ${f.path === 'rest' ? 'rest' : 'ws'}`, f.path === 'rest' ? 'REST' : 'WebSocket'), el('span', 'finding-title', f.title));
    card.append(head);
    if (f.error || f.location) {
      const line = el('div', 'finding-error mono');
      if (f.error) line.append(el('span', 'err-text', f.error));
      if (f.location) {
        const l = f.location;
        append(line, el('span', 'muted', `${f.error ? '  ' : ''}at `), el('span', 'loc', `${l.file}:${l.line}`), el('span', 'muted', ' in '), el('span', 'loc', `${l.function}()`));
      }
      card.append(line);
    }
    if (f.next_step) card.append(append(el('div', 'next-step'), el('b', null, 'Next step: '), f.next_step));
    const why = el('details', 'why');
    why.append(el('summary', null, f.suggestion ? 'Why, and the fix to try' : 'Why'));
    if (f.location && f.location.source) why.append(el('pre', 'exc-source mono', f.location.source));
    if (Array.isArray(f.explanation) && f.explanation.length) {
      const ul = el('ul', 'explanation');
      for (const line of f.explanation) ul.append(el('li', null, line));
      why.append(ul);
    }
    if (f.suggestion) why.append(el('pre', 'suggestion mono', f.suggestion));
    // Opening "why" only folds it: it is not a click on the finding.
    why.addEventListener('click', (ev) => ev.stopPropagation());
    const foot = el('div', 'finding-foot');
    if (Array.isArray(f.evidence) && f.evidence.length) append(foot, el('span', 'muted', 'evidence seq '), seqLinks(f.evidence));
    if (f.action !== null && f.action !== undefined) {
      foot.append(
        button('Compare REST ↔ WebSocket', 'small', (ev) => {
          ev.stopPropagation();
          activateFinding(i, true);
        }),
      );
    }
    foot.append(why);
    card.append(foot);
    card.addEventListener('click', (ev) => {
      if (ev.target.closest('a, button, pre.suggestion')) return;
      activateFinding(i, true);
    });
    card.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') activateFinding(i, true);
    });
    return card;
  }

  function activateFinding(i, show) {
    const live = String(i).startsWith('live-');
    const f = live ? S.liveShown[Number(String(i).slice(5))] : S.diag && S.diag.findings && S.diag.findings[i];
    if (!f) return;
    S.activeFinding = i;
    for (const c of $('diag-body').querySelectorAll('.finding')) c.classList.toggle('active', c.dataset.index === String(i));
    highlightSeqs(f.evidence || []);
    if (show) {
      if (f.action !== null && f.action !== undefined) showAction(f.action, f.comparison, f);
      else showFinding(f);
    }
  }

  function highlightSeqs(seqs) {
    S.hlSeqs = new Set(seqs);
    S.hlRows = new Set();
    for (const q of S.hlSeqs) {
      const row = S.seqToRow.get(q);
      if (row) S.hlRows.add(row);
    }
    let first = null;
    for (const row of S.hlRows) if (!first || row.seq < first.seq) first = row;
    if (first) {
      if (S.visible.indexOf(first) < 0) {
        const firstShown = S.visible.find((r) => S.hlRows.has(r));
        if (firstShown) scrollToRow(firstShown);
        else flashStatus('the highlighted events are hidden by the filters');
      } else scrollToRow(first);
    }
    renderNow();
  }
  function clearHighlight() {
    S.hlSeqs = new Set();
    S.hlRows = new Set();
    S.activeFinding = -1;
    for (const c of $('diag-body').querySelectorAll('.finding.active')) c.classList.remove('active');
    renderNow();
  }
  let flashTimer = 0;
  function flashStatus(msg) {
    const x = $('status-extra');
    x.textContent = msg;
    x.classList.add('flash');
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => {
      x.classList.remove('flash');
      updateStatus();
    }, 4000);
  }

  function findingBlock(f) {
    const box = el('div', 'finding-detail');
    box.append(append(el('div', 'detail-head'), el('span', 'code', f.code), el('span', 'title', f.title)));
    if (f.error) box.append(append(el('div', 'errbox'), el('div', 'exc-value mono', f.error)));
    if (f.location) {
      const l = f.location;
      box.append(el('div', 'exc-frame mono', `at ${l.file}:${l.line} in ${l.function}()`));
      if (l.source) box.append(el('pre', 'exc-source mono', l.source));
    }
    if (f.next_step) box.append(append(el('div', 'next-step'), el('b', null, 'Next step: '), f.next_step));
    if (f.suggestion) box.append(el('pre', 'suggestion mono', f.suggestion));
    return box;
  }
  function showFinding(f) {
    const d = $('detail');
    const frag = document.createDocumentFragment();
    frag.append(findingBlock(f));
    if (Array.isArray(f.explanation)) {
      const ul = el('ul', 'explanation');
      for (const line of f.explanation) ul.append(el('li', null, line));
      frag.append(ul);
    }
    if (f.comparison) frag.append(comparisonBlock(f.comparison));
    S.selected = null;
    renderNow();
    d.replaceChildren(frag);
    d.scrollTop = 0;
  }

  function valueCell(v, missing) {
    const td = el('td', 'mono');
    if (v === undefined || v === null) {
      td.append(el('span', missing ? 'missing' : 'muted', missing ? 'missing' : '—'));
    } else if (typeof v === 'object') {
      td.append(jsonTree(v));
    } else td.append(jsonLeaf(v));
    return td;
  }
  function comparisonBlock(cmp) {
    const wrap = el('div', 'comparison');
    wrap.append(el('h3', null, 'Field differences'));
    const missing = new Set(cmp.missing_in_rest || []);
    const unknown = new Map((cmp.unknown_in_rest || []).map((u) => [u.name, u.probably]));
    const types = new Map((cmp.type_changes || []).map((t) => [t.name, t]));
    const t = el('table', 'cmp');
    const hr = el('tr');
    for (const h of ['field', 'REST body', 'WebSocket payload', 'saved object', '']) hr.append(el('th', null, h));
    t.append(append(el('thead'), hr));
    const tb = el('tbody');
    for (const f of cmp.fields || []) {
      const tr = el('tr');
      const same = JSON.stringify(f.rest ?? null) === JSON.stringify(f.ws ?? null);
      const notes = [];
      if (missing.has(f.name)) notes.push('missing in REST');
      if (unknown.has(f.name)) notes.push(`unknown to the server${unknown.get(f.name) ? `; probably \`${unknown.get(f.name)}\`` : ''}`);
      if (types.has(f.name)) notes.push(`type ${types.get(f.name).rest} → ${types.get(f.name).saved}`);
      if (!same || notes.length) tr.className = 'diff';
      append(tr, el('td', 'mono fname', f.name), valueCell(f.rest, missing.has(f.name)), valueCell(f.ws), valueCell(f.saved), el('td', 'notes', notes.join('; ')));
      tb.append(tr);
    }
    t.append(tb);
    wrap.append(t);
    if ((cmp.context || []).length) {
      wrap.append(el('h3', null, 'Request context that differs'));
      const ct = el('table', 'cmp');
      const h2 = el('tr');
      for (const h of ['item', 'REST request', 'WebSocket handshake']) h2.append(el('th', null, h));
      ct.append(append(el('thead'), h2));
      const b2 = el('tbody');
      for (const c of cmp.context) {
        const tr = el('tr', 'diff');
        append(tr, el('td', 'mono', c.item), el('td', 'mono', c.rest), el('td', 'mono', c.ws));
        b2.append(tr);
      }
      ct.append(b2);
      wrap.append(ct);
    }
    return wrap;
  }

  function attemptCard(a) {
    const card = el('div', `attempt path-${a.path}`);
    const ok = a.outcome && a.outcome.result === 'succeeded';
    const bad = a.outcome && a.outcome.result === 'failed';
    append(card, append(el('div', 'attempt-head'), el('span', `pill ${a.path === 'rest' ? 'rest' : 'ws'}`, a.path === 'rest' ? 'REST' : 'WebSocket'), el('span', 'mono', attemptLabel(a)), el('span', `pill ${bad ? 'bad' : ok ? 'good' : 'unknown'}`, ok ? '✓ ok' : bad ? '✗ failed' : '? unconfirmed')));
    const ctx = a.context || {};
    card.append(
      kvTable([
        ['Sent', seqLinks([a.seq])],
        ['Connection', a.conn !== undefined ? `#${a.conn}` : ''],
        ['Time', fmtClock(a.t_us)],
        ['Outcome', outcomeText(a.outcome)],
        ['Outcome events', outcomeEvidence(a.outcome).length ? seqLinks(outcomeEvidence(a.outcome)) : ''],
      ]),
    );
    const fs = section('Fields sent', true, Object.keys(a.fields || {}).length);
    fs.append(jsonTree(a.fields || {}));
    card.append(fs);
    if (a.outcome && a.outcome.saved) card.append(append(section('Saved object', false), jsonTree(a.outcome.saved)));
    card.append(
      append(
        section('Request context', true),
        kvTable([
          ['Cookies', (ctx.cookies || []).join(', ') || 'none'],
          ['CSRF header', ctx.csrf_header ? 'yes' : 'no'],
          ['Authorization', ctx.authorization || 'none'],
          ['Token in query', ctx.query_token ? 'yes' : 'no'],
          ['Content-Type', ctx.content_type || '—'],
          ['Origin', ctx.origin || '—'],
          ['Host', ctx.host || '—'],
        ]),
      ),
    );
    return card;
  }
  function showAction(ai, comparison, finding) {
    const d = S.diag;
    const action = d && d.actions && d.actions[ai];
    if (!action) {
      if (finding) showFinding(finding);
      return;
    }
    // Picked by wsdiag: those the findings cite, then failed ones, then the
    // earliest; a few per path.
    const attempts = action.shown || [];
    const frag = document.createDocumentFragment();
    if (finding) frag.append(findingBlock(finding));
    else frag.append(append(el('div', 'detail-head'), el('span', 'title', `Action ${JSON.stringify(action.content)}${action.conversation ? ' in conversation ' + action.conversation : ''}`)));
    const side = el('div', 'side-by-side');
    const restCol = el('div', 'col');
    const wsCol = el('div', 'col');
    restCol.append(el('h3', null, 'REST'));
    wsCol.append(el('h3', null, 'WebSocket'));
    for (const a of attempts) (a.path === 'rest' ? restCol : wsCol).append(attemptCard(a));
    if (restCol.childNodes.length === 1) restCol.append(el('p', 'muted', 'not tried over REST'));
    if (wsCol.childNodes.length === 1) wsCol.append(el('p', 'muted', 'not tried over the WebSocket'));
    for (const [col, path] of [[restCol, 'rest'], [wsCol, 'ws']]) {
      const more = (action.more || {})[path] || 0;
      if (more > 0) col.append(el('p', 'muted', `… and ${more} more attempts like these`));
    }
    append(side, restCol, wsCol);
    frag.append(side);
    if (comparison) frag.append(comparisonBlock(comparison));
    if (finding && Array.isArray(finding.explanation) && finding.explanation.length) {
      const sec = section('Why', true);
      const ul = el('ul', 'explanation');
      for (const line of finding.explanation) ul.append(el('li', null, line));
      frag.append(append(sec, ul));
    }
    S.selected = null;
    renderNow();
    const pane = $('detail');
    pane.replaceChildren(frag);
    pane.scrollTop = 0;
  }

  // ------------------------------------------------------------------ feed

  let es = null;
  let retryTimer = 0;
  function processBatch(batch) {
    for (const ev of batch) ingest(ev);
  }
  let lastBatchAt = 0;
  function onBatch(batch) {
    lastBatchAt = performance.now();
    S.received += batch.length;
    if (S.paused) S.pending.push(batch);
    else processBatch(batch);
    if (!S.ready) {
      S.ready = true;
      renderNow();
    } else scheduleRender();
  }
  function connect() {
    clearTimeout(retryTimer);
    if (es) es.close();
    if (typeof EventSource === 'undefined') {
      S.conn = 'lost';
      updateStatus();
      return;
    }
    es = new EventSource(api('api/events'));
    if (S.conn === 'failed' || S.conn === 'lost') S.conn = 'reconnecting';
    es.addEventListener('open', () => {
      S.conn = 'open';
      scheduleRender();
    });
    es.addEventListener('header', (m) => {
      try {
        setHeader(JSON.parse(m.data));
      } catch (_) {
        /* ignore a bad header */
      }
    });
    es.addEventListener('events', (m) => {
      let data;
      try {
        data = JSON.parse(m.data);
      } catch (_) {
        return;
      }
      const batch = Array.isArray(data) ? data : [data];
      // A reconnect replays from the start: count only what is new.
      const fresh = batch.filter((e) => !(typeof e.seq === 'number' && e.seq <= maxReceivedSeq));
      for (const e of fresh) if (typeof e.seq === 'number' && e.seq > maxReceivedSeq) maxReceivedSeq = e.seq;
      S.conn = 'open';
      onBatch(fresh);
    });
    es.addEventListener('findings', (m) => {
      try {
        takeLiveFindings(JSON.parse(m.data));
      } catch (_) {
        /* the whole diagnosis still comes */
      }
    });
    es.addEventListener('status', (m) => {
      try {
        const s = JSON.parse(m.data);
        if (typeof s.events === 'number') S.serverCount = s.events;
      } catch (_) {
        /* ignore */
      }
      scheduleRender();
    });
    es.addEventListener('end', (m) => {
      try {
        S.trailer = JSON.parse(m.data);
      } catch (_) {
        /* a trailer is informative only */
      }
      S.finished = true;
      S.ready = true;
      es.close();
      if (diagState.started) loadDiagnosis(false);
      else startDiagnosis();
      scheduleRender();
    });
    // wsdiag could not read the capture; it ends the stream after this.
    es.addEventListener('failure', (m) => {
      let msg = m.data;
      try {
        msg = JSON.parse(m.data).message || msg;
      } catch (_) {
        /* keep the raw text */
      }
      S.conn = 'failed';
      S.failMsg = String(msg);
      es.close();
      retryTimer = setTimeout(connect, 5000);
      scheduleRender();
    });
    es.addEventListener('error', () => {
      if (S.finished || S.conn === 'failed') return;
      if (es.readyState === EventSource.CLOSED) {
        S.conn = 'lost';
        retryTimer = setTimeout(connect, 3000);
      } else S.conn = 'reconnecting';
      scheduleRender();
    });
  }
  let maxReceivedSeq = 0;

  function togglePause() {
    S.paused = !S.paused;
    const b = $('pause');
    b.textContent = S.paused ? 'Resume' : 'Pause';
    b.classList.toggle('on', S.paused);
    b.setAttribute('aria-pressed', String(S.paused));
    if (!S.paused) {
      const pend = S.pending;
      S.pending = [];
      for (const batch of pend) processBatch(batch);
    }
    renderNow();
  }

  // ------------------------------------------------------------------ wiring

  function wire() {
    const tl = $('timeline');
    tl.addEventListener(
      'scroll',
      () => {
        if (Math.abs(tl.scrollTop - S.lastAutoTop) > 1) {
          const atBottom = tl.scrollTop + tl.clientHeight >= S.visible.length * ROW_H - ROW_H / 2;
          if (atBottom !== S.follow) setFollow(atBottom);
          S.lastAutoTop = -1;
        }
        scheduleRender();
      },
      { passive: true },
    );
    tl.addEventListener('click', (ev) => {
      const r = ev.target.closest('.row');
      if (!r) return;
      const row = S.seqToRow.get(Number(r.dataset.seq));
      if (row) {
        select(row, false);
        tl.focus({ preventScroll: true });
      }
    });
    tl.addEventListener('keydown', (ev) => {
      const n = S.visible.length;
      if (!n) return;
      let idx = S.selected ? S.visible.indexOf(S.selected) : -1;
      const page = Math.max(1, Math.floor(tl.clientHeight / ROW_H) - 1);
      if (ev.key === 'ArrowDown') idx = Math.min(n - 1, idx + 1);
      else if (ev.key === 'ArrowUp') idx = Math.max(0, idx < 0 ? n - 1 : idx - 1);
      else if (ev.key === 'PageDown') idx = Math.min(n - 1, idx + page);
      else if (ev.key === 'PageUp') idx = Math.max(0, idx - page);
      else if (ev.key === 'Home') idx = 0;
      else if (ev.key === 'End') idx = n - 1;
      else return;
      ev.preventDefault();
      select(S.visible[idx], true);
    });
    window.addEventListener('resize', scheduleRender);
    // The diagnosis panel growing or folding changes the timeline's height.
    if (typeof ResizeObserver !== 'undefined') new ResizeObserver(scheduleRender).observe(tl);
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && S.hlRows.size) clearHighlight();
      if (ev.key === '/' && document.activeElement === document.body) {
        ev.preventDefault();
        $('filter-text').focus();
      }
    });
    for (const id of ['filter-text', 'filter-path']) $(id).addEventListener('input', applyFilters);
    for (const id of ['filter-conn', 'filter-dir', 'filter-type', 'filter-role', 'filter-status', 'filter-errors']) $(id).addEventListener('change', applyFilters);
    $('filter-clear').addEventListener('click', clearFilters);
    $('pause').addEventListener('click', togglePause);
    $('follow').addEventListener('change', () => {
      setFollow($('follow').checked);
      if (S.follow) scrollToBottom();
      renderNow();
    });
    $('export-har').href = api('api/export/har');
    $('export-markdown').href = api('api/export/markdown');
    $('export-jsonl').href = api('api/export/jsonl');
    // The detail pane's width, dragged with the splitter.
    const split = $('splitter');
    split.addEventListener('pointerdown', (ev) => {
      ev.preventDefault();
      split.setPointerCapture(ev.pointerId);
      const main = $('main');
      const move = (e) => {
        const rect = main.getBoundingClientRect();
        const w = Math.min(rect.width - 320, Math.max(280, rect.right - e.clientX));
        main.style.setProperty('--detail-w', `${w}px`);
        scheduleRender();
      };
      const up = () => {
        split.removeEventListener('pointermove', move);
        split.removeEventListener('pointerup', up);
      };
      split.addEventListener('pointermove', move);
      split.addEventListener('pointerup', up);
    });
    $('diagnosis').addEventListener('toggle', scheduleRender);
  }

  window.wsdiagUi = {
    total: () => S.received,
    shown: () => S.visible.length,
    get ready() {
      return S.ready;
    },
    get finished() {
      return S.finished;
    },
  };

  wire();
  readFilters();
  if (!TOKEN) flashStatus('no ?token= in the address: the API will refuse the requests');
  connect();
  // The first diagnosis waits for the replay to catch up (the feed quiet for
  // a moment, or its end), or 10 s at most under continuous traffic.
  const bootAt = performance.now();
  const diagBoot = setInterval(() => {
    const now = performance.now();
    if (diagState.started) clearInterval(diagBoot);
    else if ((S.ready && now - lastBatchAt > 700) || now - bootAt > 10000) {
      clearInterval(diagBoot);
      startDiagnosis();
    }
  }, 250);
  renderNow();
})();
