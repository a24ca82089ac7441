#!/usr/bin/env bash
# Records the Django Channels scenarios through wsdiag into captures/:
# the real backend (daphne) with each switchable bug, the proxy in front,
# the Python client sending "cc" over the WebSocket and over REST.
#
#   bash tests/django_chat/record_captures.sh
#
# Needs the venv (tests/django_chat/setup_venv.sh) and a release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-target/django-venv/bin/python}
WSDIAG=${WSDIAG:-target/release/wsdiag}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Starts "$@" in the background with stdout on a FIFO and reads lines until
# one matches $1 (blocking, no polling). Sets $found and $last_pid; runs in
# this shell (not a subshell) so both survive.
start_and_wait() {
  local pattern=$1; shift
  local fifo="$tmp/fifo.$RANDOM"
  mkfifo "$fifo"
  "$@" > "$fifo" &
  last_pid=$!
  exec {fd}<"$fifo"
  local line
  while IFS= read -r -u "$fd" line; do
    if [[ $line == *"$pattern"* ]]; then found=$line; break; fi
  done
  # Keep draining in the background so the process never blocks on stdout.
  cat <&"$fd" > /dev/null &
}

scenario() {
  local name=$1 bug=$2 debug=$3; shift 3
  local backend proxy backend_pid proxy_pid
  CHAT_BUG=$bug CHAT_DEBUG=$debug start_and_wait "127.0.0.1:" \
    "$PY" tests/django_chat/run_backend.py --port-file "$tmp/port"
  backend_pid=$last_pid
  backend=$(grep -o '127.0.0.1:[0-9]*' <<<"$found")
  start_and_wait "proxy on" "$WSDIAG" proxy --upstream "http://$backend" \
    --listen 127.0.0.1:0 --capture "captures/django-$name.jsonl" --quiet
  proxy_pid=$last_pid
  proxy=$(grep -o 'proxy on http://127.0.0.1:[0-9]*' <<<"$found" | grep -o '127.0.0.1:[0-9]*')
  "$PY" tests/django_chat/client.py --base "http://$proxy" "$@"
  kill -INT "$proxy_pid"; wait "$proxy_pid" || true
  kill -TERM "$backend_pid"; wait "$backend_pid" || true
  echo "recorded captures/django-$name.jsonl"
}

scenario sender-not-set-html       sender_not_set 1 --accept json
scenario sender-not-set-text       sender_not_set 1 --accept strict-json
scenario sender-not-set-nodebug    sender_not_set 0 --accept json
scenario render-crash              render_crash   1 --accept json
scenario wrong-field               none           1 --rest-field contenu
scenario working                   none           1
