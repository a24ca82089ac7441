#!/usr/bin/env bash
# The Autobahn|Testsuite comparison that CI runs: the tokio-tungstenite echo
# upstream (examples/echo_upstream.rs) tested directly and through
# `wsdiag proxy`, recording to a capture. Fails when any case, or its close
# behaviour, is worse through wsdiag than directly, or worse than the golden
# file tests/autobahn/expected-results.json.
#
#   tests/autobahn/ci.sh [outdir]          (default target/autobahn)
#
# AUTOBAHN_SKIP_LARGE=1 leaves out 9.* (large messages); see run.sh.
# To refresh the golden file after an intended change:
#   tests/autobahn/ci.sh && python3 tests/autobahn/compare.py target/autobahn \
#     --write-golden tests/autobahn/expected-results.json
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
outdir=${1:-$root/target/autobahn}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
cd "$root"

cargo build --release --locked --bin wsdiag --example echo_upstream
"$here/setup_venv.sh" || { echo "ci.sh: setting up the Autobahn venv failed" >&2; exit 2; }

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# Each server says where it listens on its first line of stdout, once it
# accepts connections: read it, no polling.
exec 3< <(exec target/release/examples/echo_upstream)
pids+=($!)
read -r -t 60 line <&3 || { echo "ci.sh: the echo upstream did not start" >&2; exit 2; }
echo_addr=${line#listening on }

capture="$outdir/wsdiag.jsonl"
rm -f "$capture"
exec 4< <(exec target/release/wsdiag proxy --upstream "http://$echo_addr" \
  --listen 127.0.0.1:0 --capture "$capture" --body-limit 4KiB --quiet)
proxy_pid=$!
pids+=("$proxy_pid")
proxy_addr=
while read -r -t 60 line <&4; do
  case $line in
    *"proxy on http://"*)
      proxy_addr=$(sed -E 's#.*proxy on http://([0-9.:]+).*#\1#' <<<"$line")
      break ;;
  esac
done
[ -n "$proxy_addr" ] || { echo "ci.sh: wsdiag proxy did not start" >&2; exit 2; }
echo "== echo upstream on $echo_addr, wsdiag on $proxy_addr"

rc=0
"$here/run.sh" "ws://$echo_addr" "ws://$proxy_addr" "$outdir" \
  --golden "$here/expected-results.json" || rc=$?

# Stop the proxy as Ctrl-C does; its capture must read back.
if ! kill -INT "$proxy_pid" 2>/dev/null; then
  echo "ci.sh: wsdiag proxy was no longer running" >&2
  rc=2
fi
cat <&4 > "$outdir/proxy.log"
wait "$proxy_pid" || { echo "ci.sh: wsdiag proxy exited with $?" >&2; rc=2; }
target/release/wsdiag show "$capture" > /dev/null \
  || { echo "ci.sh: the capture of the Autobahn run does not read back" >&2; rc=2; }
grep -h '^Summary' "$outdir/proxy.log" || true
exit "$rc"
