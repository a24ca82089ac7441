#!/usr/bin/env bash
# Runs the Autobahn|Testsuite fuzzingclient against an echo server twice,
# directly (agent "direct") and through wsdiag (agent "wsdiag"), one after
# the other, then compares the two reports with compare.py.
#
#   tests/autobahn/run.sh <direct-ws-url> <proxied-ws-url> <outdir> [compare.py options]
#
# e.g. tests/autobahn/run.sh ws://127.0.0.1:9001 ws://127.0.0.1:9002 target/autobahn \
#        --golden tests/autobahn/expected-results.json
#
# Both servers must already be listening. Reports (HTML + JSON) land in
# <outdir>/direct and <outdir>/wsdiag, wstest's output in <outdir>/<agent>.log.
# Exit status: 0 no regression, 1 regression, 2 setup or run failure.
#
# Environment:
#   AUTOBAHN_SKIP_LARGE=1  also exclude 9.* (large messages / throughput)
#   AUTOBAHN_CASES         comma-separated case patterns (default "*")
#   AUTOBAHN_VENV          the wstest virtualenv (default target/autobahn-venv,
#                          created/refreshed by setup_venv.sh)
#   AUTOBAHN_TIMEOUT       seconds allowed per wstest run (default 1800)
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
direct_url=$1 proxied_url=$2 outdir=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${AUTOBAHN_VENV:-$root/target/autobahn-venv}
timeout_s=${AUTOBAHN_TIMEOUT:-1800}

"$here/setup_venv.sh" "$venv" || { echo "run.sh: setting up the Autobahn venv failed" >&2; exit 2; }
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

exclude='"12.*", "13.*"'  # permessage-deflate: neither echo server negotiates it
if [ "${AUTOBAHN_SKIP_LARGE:-0}" = 1 ]; then exclude="$exclude, \"9.*\""; fi
cases=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1].split(",")))' \
  "${AUTOBAHN_CASES:-*}")

# wstest prints a deprecation warning from cryptography on every start.
export PYTHONWARNINGS="ignore:Python 2 is no longer supported"

run() {  # agent url
  local agent=$1 url=$2 spec="$outdir/$1.spec.json" start rc=0
  rm -rf "${outdir:?}/$agent"
  python3 - "$spec" "$agent" "$url" "$outdir/$agent" "$cases" "$exclude" <<'EOF'
import json, sys
path, agent, url, out, cases, exclude = sys.argv[1:]
spec = {
    "outdir": out,
    "options": {"failByDrop": False},
    "servers": [{"agent": agent, "url": url}],
    "cases": json.loads(cases),
    "exclude-cases": json.loads("[%s]" % exclude),
    "exclude-agent-cases": {},
}
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
EOF
  echo "== $agent: $url (cases $cases, excluding $exclude)"
  start=$(date +%s%N)
  (cd "$outdir" && timeout -k 10 "$timeout_s" "$venv/bin/wstest" -m fuzzingclient -s "$spec") \
    > "$outdir/$agent.log" 2>&1 || rc=$?
  local ms=$((($(date +%s%N) - start) / 1000000))
  printf '== %s: wstest took %d.%01d s (exit %d), log %s\n' \
    "$agent" $((ms / 1000)) $((ms % 1000 / 100)) "$rc" "$outdir/$agent.log"
  if grep -q "^Connection to .* failed" "$outdir/$agent.log"; then
    grep "^Connection to .* failed" "$outdir/$agent.log" | head -3 >&2
  fi
  if [ "$rc" != 0 ] || [ ! -f "$outdir/$agent/index.json" ]; then
    echo "run.sh: wstest for $agent failed (exit $rc$([ "$rc" = 124 ] && echo ", timed out after ${timeout_s}s")); last lines of its log:" >&2
    tail -n 20 "$outdir/$agent.log" >&2
    exit 2
  fi
}

run direct "$direct_url"
run wsdiag "$proxied_url"
python3 "$here/compare.py" "$outdir" "$@"
