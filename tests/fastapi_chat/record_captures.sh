#!/usr/bin/env bash
# Records one sample capture per bug of the FastAPI chat into captures/:
# its client through `wsdiag proxy`, debug on (plain-text tracebacks: the
# client accepts JSON). Run from the repository's root after `cargo build
# --release` and `bash tests/django_chat/setup_venv.sh` (the test venv holds
# FastAPI).
set -euo pipefail
cd "$(dirname "$0")/../.."
wsdiag=target/release/wsdiag
python=target/django-venv/bin/python
db=$(mktemp -d)
trap 'rm -rf "$db"' EXIT
record() { # BUG CAPTURE [CLIENT ARGS...]
    local bug=$1 name=$2 line url addr
    shift 2
    rm -f "$db/chat.sqlite3"
    exec 3< <(CHAT_BUG=$bug CHAT_DEBUG=1 CHAT_DB="$db/chat.sqlite3" "$python" tests/fastapi_chat/run_backend.py 2>/dev/null)
    read -r line <&3; url=${line#listening on }
    rm -f "captures/$name"
    exec 4< <("$wsdiag" proxy --upstream "$url" --listen 127.0.0.1:0 --capture "captures/$name" --quiet)
    read -r line <&4; addr=$(grep -o '127.0.0.1:[0-9]*' <<<"$line" | head -1)
    "$python" tests/fastapi_chat/client.py "http://$addr" "$@" >/dev/null
    pkill -INT -f "wsdiag proxy --upstream $url" || true
    cat <&4 >/dev/null
    pkill -f "tests/fastapi_chat/run_backend.py" || true
    chmod 644 "captures/$name"
}
record no-sender fastapi-sender-not-set.jsonl
record error-after-save fastapi-error-after-save.jsonl
record wrong-field fastapi-wrong-field.jsonl
record no-user fastapi-no-user-dependency.jsonl
record none fastapi-json-as-text-plain.jsonl --content-type text
