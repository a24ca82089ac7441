#!/usr/bin/env bash
# The Autobahn|Testsuite comparison that CI runs, in two suites, each an echo
# upstream tested directly and through `wsdiag proxy` (recording to a
# capture):
#
#   default  the tokio-tungstenite echo (examples/echo_upstream.rs, no
#            compression), every case but 12.* and 13.*; golden file
#            tests/autobahn/expected-results.json
#   deflate  the Node `ws` echo that negotiates permessage-deflate
#            (deflate_echo/server.js), cases 9.*, 12.* and 13.*; golden file
#            tests/autobahn/expected-results-deflate.json (used once it exists)
#
# Fails when any case, or its close behaviour, is worse through wsdiag than
# directly, or worse than the suite's golden file.
#
#   tests/autobahn/ci.sh [outdir]          (default target/autobahn)
#
# Reports land in <outdir>/<suite>/ (see run.sh). Environment:
#   AUTOBAHN_SUITES        which suites, in order (default "default deflate")
#   AUTOBAHN_SKIP_LARGE=1  leaves out 9.* (large messages) in both; see run.sh
#   AUTOBAHN_CASES         runs only these case patterns in each suite; see run.sh
#   AUTOBAHN_SKIP_BUILD=1  no cargo build: use target/release/wsdiag and
#                          target/release/examples/echo_upstream as they are
# To write or refresh a suite's golden file after an intended change:
#   AUTOBAHN_SUITES=deflate tests/autobahn/ci.sh && python3 tests/autobahn/compare.py \
#     target/autobahn/deflate --write-golden tests/autobahn/expected-results-deflate.json
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
outdir=${1:-$root/target/autobahn}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
suites=${AUTOBAHN_SUITES:-default deflate}
for suite in $suites; do
  case $suite in
    default | deflate) ;;
    *) echo "ci.sh: unknown suite '$suite' in AUTOBAHN_SUITES (default, deflate)" >&2; exit 2 ;;
  esac
done
cd "$root"

if [ "${AUTOBAHN_SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release --locked --bin wsdiag --example echo_upstream
fi
"$here/setup_venv.sh" || { echo "ci.sh: setting up the Autobahn venv failed" >&2; exit 2; }
case " $suites " in
  *" deflate "*) "$here/setup_deflate_echo.sh" \
    || { echo "ci.sh: installing the deflate echo's npm packages failed" >&2; exit 2; } ;;
esac

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# run_suite NAME GOLDEN UPSTREAM-COMMAND...: starts the upstream and wsdiag in
# front of it, runs run.sh on both, stops wsdiag as Ctrl-C does and checks
# that its capture reads back, stops the upstream. Sets suite_rc.
run_suite() {
  local name=$1 golden=$2
  shift 2
  local dir="$outdir/$name" line upstream_pid proxy_pid echo_addr proxy_addr=
  mkdir -p "$dir"
  suite_rc=0
  echo "== suite $name"

  # Each server says where it listens on its first line of stdout, once it
  # accepts connections: read it, no polling.
  exec 3< <(exec "$@" 2> "$dir/upstream.log")
  upstream_pid=$!
  pids+=("$upstream_pid")
  read -r -t 60 line <&3 || {
    echo "ci.sh: the $name echo upstream did not start; $dir/upstream.log:" >&2
    tail -n 20 "$dir/upstream.log" >&2
    exit 2
  }
  echo_addr=${line#listening on }

  local capture="$dir/wsdiag.jsonl"
  rm -f "$capture"
  exec 4< <(exec target/release/wsdiag proxy --upstream "http://$echo_addr" \
    --listen 127.0.0.1:0 --capture "$capture" --body-limit 4KiB --quiet)
  proxy_pid=$!
  pids+=("$proxy_pid")
  while read -r -t 60 line <&4; do
    case $line in
      *"proxy on http://"*)
        proxy_addr=$(sed -E 's#.*proxy on http://([0-9.:]+).*#\1#' <<<"$line")
        break ;;
    esac
  done
  [ -n "$proxy_addr" ] || { echo "ci.sh: wsdiag proxy did not start" >&2; exit 2; }
  echo "== $name: echo upstream on $echo_addr, wsdiag on $proxy_addr"

  local golden_args=()
  if [ -f "$golden" ]; then
    golden_args=(--golden "$golden")
  else
    echo "== $name: no golden file $golden yet: only direct vs wsdiag is compared"
  fi
  AUTOBAHN_SUITE=$name "$here/run.sh" "ws://$echo_addr" "ws://$proxy_addr" "$dir" \
    "${golden_args[@]}" || suite_rc=$?

  # Stop the proxy as Ctrl-C does; its capture must read back.
  if ! kill -INT "$proxy_pid" 2>/dev/null; then
    echo "ci.sh: wsdiag proxy was no longer running" >&2
    suite_rc=2
  fi
  cat <&4 > "$dir/proxy.log"
  wait "$proxy_pid" || { echo "ci.sh: wsdiag proxy exited with $?" >&2; suite_rc=2; }
  target/release/wsdiag show "$capture" > /dev/null \
    || { echo "ci.sh: the capture of the $name run does not read back" >&2; suite_rc=2; }
  grep -h '^Summary' "$dir/proxy.log" || true
  exec 4<&-

  kill "$upstream_pid" 2>/dev/null || true
  wait "$upstream_pid" 2>/dev/null || true
  exec 3<&-
}

rc=0
for suite in $suites; do
  case $suite in
    default) run_suite default "$here/expected-results.json" target/release/examples/echo_upstream ;;
    deflate) run_suite deflate "$here/expected-results-deflate.json" node "$here/deflate_echo/server.js" ;;
  esac
  echo "== suite $suite: exit $suite_rc"
  if [ "$suite_rc" -gt "$rc" ]; then rc=$suite_rc; fi
done
exit "$rc"
