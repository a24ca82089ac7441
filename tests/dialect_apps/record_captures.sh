#!/usr/bin/env bash
# Records the sample captures of the Express + Socket.IO chat into captures/:
# socket.io-client through `wsdiag proxy`, over WebSocket and over
# long-polling with its upgrade, the REST send failing (CHAT_BUG=no-body-parser),
# and one capture for each other REST bug of the Express route.
# Run from the repository's root after `cargo build --release` and
# `npm ci` in tests/dialect_apps.
set -euo pipefail
cd "$(dirname "$0")/../.."
wsdiag=target/release/wsdiag
apps=tests/dialect_apps
record() { # NAME TRANSPORT [BUG]
    local name=$1 transport=$2 bug=${3:-no-body-parser} server proxy url addr
    exec 3< <(CHAT_BUG=$bug node "$apps/socketio_chat.js" 2>/dev/null)
    read -r line <&3; url=${line#listening on }
    rm -f "captures/$name"
    exec 4< <("$wsdiag" proxy --upstream "$url" --listen 127.0.0.1:0 --capture "captures/$name" --quiet)
    read -r line <&4; addr=$(grep -o '127.0.0.1:[0-9]*' <<<"$line" | head -1)
    node "$apps/socketio_client.js" "http://$addr" --transport "$transport" --rest >/dev/null
    pkill -INT -f "wsdiag proxy --upstream $url" || true
    cat <&4 >/dev/null
    pkill -f "$apps/socketio_chat.js" || true
}
record socketio-rest-fails-websocket.jsonl websocket
record socketio-rest-fails-polling.jsonl polling
record express-no-user-on-route.jsonl websocket no-sender
record express-error-after-save.jsonl websocket error-after-save
record express-wrong-field.jsonl websocket wrong-field
chmod 644 captures/socketio-*.jsonl captures/express-*.jsonl
