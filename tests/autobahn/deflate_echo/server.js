// The permessage-deflate echo upstream of the Autobahn|Testsuite comparison
// (tests/autobahn/ci.sh, suite "deflate"): a Node `ws` server (pinned in
// package-lock.json) that echoes every message, text as text and binary as
// binary, and negotiates permessage-deflate (RFC 7692) as the client asks.
//
//   node tests/autobahn/deflate_echo/server.js
//
// It listens on 127.0.0.1 on a free port and prints `listening on ADDR` on
// its first line of stdout once it accepts connections (the same line as
// examples/echo_upstream.rs, read the same way by ci.sh); nothing else goes
// to stdout, so a reader that stops after that line never blocks it. Errors
// of single connections (the protocol violations the fuzzing cases provoke)
// go to stderr and end only that connection.
//
// Negotiation: ws's defaults, i.e. the first offer ws can accept, with the
// parameters it carries: the server_no_context_takeover and
// server_max_window_bits the client requests, and client_no_context_takeover
// when the client offers it (Autobahn always does; a client_max_window_bits
// without a value is dropped, so the client keeps 15 bits). Autobahn's
// 13.1-13.7 each offer another combination (server context takeover on/off,
// server_max_window_bits none/9/15, and a list of three offers), so the
// server-to-client direction runs with each of them; the client-to-server
// direction is always without context takeover, 15 bits.
// `threshold: 0` compresses every message, however small (ws leaves messages
// under 1 KiB uncompressed when context takeover is off), so every echo is a
// compressed frame and both directions are compressed.
'use strict';

const { WebSocketServer } = require('ws');

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: { threshold: 0 },
  // ws closes a message of more than 16,384 fragments with 1008 (its guard
  // against fragment floods), but 9.3.1 and 9.4.1 send 4 MiB in 65,536
  // fragments of 64 bytes: with the default both cases FAIL directly, and a
  // case that fails directly cannot show a regression through wsdiag.
  maxFragments: 128 * 1024,
});

wss.on('listening', () => {
  const { address, port } = wss.address();
  process.stdout.write(`listening on ${address}:${port}\n`);
});

wss.on('error', (err) => {
  console.error(`deflate echo: server error: ${err.message}`);
  process.exit(2);
});

wss.on('connection', (ws, req) => {
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
  ws.on('error', (err) => {
    console.error(
      `deflate echo: ${req.socket.remotePort}: ${err.code || 'error'}: ${err.message}`,
    );
  });
});

// ci.sh ends the server with SIGTERM; exit at once, as the Rust echo does.
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
