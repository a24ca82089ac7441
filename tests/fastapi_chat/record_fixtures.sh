#!/usr/bin/env bash
# Records the FastAPI backend's real REST responses into tests/fixtures/fastapi/
# (direct, no proxy): for each bug x CHAT_DEBUG=1/0 x Accept html/json,
# <bug>-<debug|nodebug>-<html|json>.txt = status line, headers, blank line, body
# (byte-exact). Plus ok-201.txt (the working POST) and login.txt.
# "text-plain" is not a server bug: CHAT_BUG=none with the client sending
# Content-Type: text/plain;charset=UTF-8 (fetch() with a string body).
#
#   PY=/path/to/venv/bin/python bash tests/fastapi_chat/record_fixtures.sh
#
# Needs a venv with tests/fastapi_chat/requirements.txt. Checks that every
# backend exits 0 on SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-target/django-venv/bin/python}
out=tests/fixtures/fastapi
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Starts "$@" in the background with stdout on a FIFO and reads lines until
# one matches $1. Sets $found and $last_pid.
start_and_wait() {
  local pattern=$1; shift
  local fifo="$tmp/fifo.$RANDOM"
  mkfifo "$fifo"
  "$@" > "$fifo" 2>> "$tmp/backend.log" &
  last_pid=$!
  exec {fd}<"$fifo"
  local line
  while IFS= read -r -u "$fd" line; do
    if [[ $line == *"$pattern"* ]]; then found=$line; break; fi
  done
  cat <&"$fd" > /dev/null &
}

record() {
  local name=$1 bug=$2 debug=$3; shift 3
  CHAT_BUG=$bug CHAT_DEBUG=$debug start_and_wait "listening on" "$PY" tests/fastapi_chat/run_backend.py
  local pid=$last_pid url=${found#listening on }
  local summary
  summary=$("$PY" tests/fastapi_chat/client.py "$url" "$@")
  echo "$name: $summary"
  kill -TERM "$pid"
  local rc=0; wait "$pid" || rc=$?
  if [ "$rc" != 0 ]; then echo "backend exited $rc on SIGTERM" >&2; cat "$tmp/backend.log" >&2; exit 1; fi
}

for bug in no-sender error-after-save wrong-field no-user text-plain; do
  server_bug=$bug; extra=()
  if [ "$bug" = text-plain ]; then server_bug=none; extra=(--content-type text); fi
  for debug in 1 0; do
    d=$([ "$debug" = 1 ] && echo debug || echo nodebug)
    for accept in html json; do
      record "$bug-$d-$accept" "$server_bug" "$debug" --accept "$accept" "${extra[@]}" \
        --rest-out "$out/$bug-$d-$accept.txt"
    done
  done
done
record ok none 1 --rest-out "$out/ok-201.txt" --login-out "$out/login.txt"
