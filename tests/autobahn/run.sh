#!/usr/bin/env bash
# Runs the Autobahn|Testsuite fuzzingclient against an echo server twice,
# directly (agent "direct") and through wsdiag (agent "wsdiag"), one after
# the other, then compares the two reports with compare.py.
#
#   tests/autobahn/run.sh <direct-ws-url> <proxied-ws-url> <outdir> [compare.py options]
#
# e.g. tests/autobahn/run.sh ws://127.0.0.1:9001 ws://127.0.0.1:9002 target/autobahn/default \
#        --golden tests/autobahn/expected-results.json
#
# Both servers must already be listening. A <proxied-ws-url> of "-" runs the
# direct agent only and prints its counts (nothing is compared). Reports
# (HTML + JSON) land in <outdir>/direct and <outdir>/wsdiag, wstest's output
# in <outdir>/<agent>.log. Exit status: 0 no regression, 1 regression,
# 2 setup or run failure.
#
# Environment:
#   AUTOBAHN_SUITE         "default" (every case but 12.* and 13.*, for an
#                          echo server without compression) or "deflate"
#                          (9.*, 12.* and 13.*, for an echo server that
#                          negotiates permessage-deflate); default "default"
#   AUTOBAHN_SKIP_LARGE=1  also exclude 9.* (large messages / throughput)
#   AUTOBAHN_CASES         comma-separated case patterns, instead of the suite's
#   AUTOBAHN_VENV          the wstest virtualenv (default target/autobahn-venv,
#                          created/refreshed by setup_venv.sh)
#   AUTOBAHN_TIMEOUT       seconds allowed per wstest run (default 1800)
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//' >&2
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

case ${AUTOBAHN_SUITE:-default} in
  # permessage-deflate (12.*, 13.*) needs an echo server that negotiates it.
  default) suite_cases='*' exclude='"12.*", "13.*"' ;;
  # 9.* too: the large messages and the limits, against the same server.
  deflate) suite_cases='9.*,12.*,13.*' exclude= ;;
  *) echo "run.sh: AUTOBAHN_SUITE must be default or deflate, not ${AUTOBAHN_SUITE}" >&2; exit 2 ;;
esac
if [ "${AUTOBAHN_SKIP_LARGE:-0}" = 1 ]; then exclude="${exclude:+$exclude, }\"9.*\""; fi
cases=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1].split(",")))' \
  "${AUTOBAHN_CASES:-$suite_cases}")

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
  echo "== $agent: $url (cases $cases, excluding [${exclude:-}])"
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

# wstest waits forever when no case is left to run: count them first, with
# wstest's own pattern matching.
count=$("$venv/bin/python" - "$cases" "[$exclude]" <<'EOF'
import json, sys
from autobahntestsuite.caseset import CaseSet
from autobahntestsuite.fuzzing import (CaseSetname, CaseBasename, Cases,
                                       CaseCategories, CaseSubCategories)
case_set = CaseSet(CaseSetname, CaseBasename, Cases, CaseCategories, CaseSubCategories)
spec = {"cases": json.loads(sys.argv[1]), "exclude-cases": json.loads(sys.argv[2])}
print(len([c for c in case_set.parseSpecCases(spec) if c in case_set.CasesIndices]))
EOF
) || { echo "run.sh: listing the cases with wstest's venv failed" >&2; exit 2; }
if [ "$count" = 0 ]; then
  echo "run.sh: no case matches $cases (excluding [$exclude])" >&2
  exit 2
fi
echo "== suite ${AUTOBAHN_SUITE:-default}: $count cases"

run direct "$direct_url"
if [ "$proxied_url" = - ]; then
  python3 "$here/compare.py" "$outdir" --direct-only "$@"
  exit
fi
run wsdiag "$proxied_url"
python3 "$here/compare.py" "$outdir" "$@"
