#!/usr/bin/env python3
"""Compare Autobahn|Testsuite fuzzingclient reports: direct vs through wsdiag.

Reads OUTDIR/<direct-agent>/index.json and OUTDIR/<proxy-agent>/index.json
(as written by `wstest -m fuzzingclient`, structure
{agent: {case_id: {"behavior", "behaviorClose", "duration",
"remoteCloseCode", "reportfile"}}}), prints per-behaviour counts for both
and every case the proxied run scores worse on than the direct one, for the
case verdict ("behavior") or for the closing handshake ("behaviorClose").

Optionally compares the proxied results with a golden file (--golden) and/or
writes one (--write-golden): the proxied results without the volatile fields
(duration, reportfile), cases in numeric order. --direct-only prints the
direct report's counts alone (run.sh with "-" as the proxied URL).

Ranking, best first (one scale for both fields; the values wstest 0.8.2 uses):
  0 OK, NON-STRICT,     acceptable: passed / allowed by the RFC but not the
    INFORMATIONAL       strictest reading / nothing to judge (INFORMATIONAL is
                        set unconditionally by cases 7.1.6 and 7.13.x)
  2 FAILED BY CLIENT    close only: the client, not the server, dropped TCP
  3 UNIMPLEMENTED       feature (permessage-deflate) not offered/negotiated
  4 WRONG CODE          close only: unexpected close code
  5 UNCLEAN, NO_CLOSE   connection not closed cleanly when required
  6 FAILED              wrong events, or closed by the wrong endpoint
  7 (anything else)     unknown value, treated as worst
NON-STRICT ranks with OK because in cases 3.2-3.4, 4.x.3-5 and 5.15 ("echo
the good message, then fail on the bad frame") it only means the echo lost a
race against the failure: two runs against the very same echo server flip
between OK and NON-STRICT. --strict ranks it 1, below OK. Such same-rank
changes are still listed, as notes.
A case missing from the proxied report but present in the direct one (e.g.
the proxy died and wstest skipped the rest) counts as worse.
A differing remoteCloseCode alone is only reported as a note: an unexpected
code already shows up as behaviorClose WRONG CODE.

Exit status: 0 no regression, 1 regression, 2 unusable input.
"""

import argparse
import collections
import json
import os
import sys

RANK = {
    "OK": 0,
    "INFORMATIONAL": 0,
    "NON-STRICT": 0,  # 1 with --strict
    "FAILED BY CLIENT": 2,
    "UNIMPLEMENTED": 3,
    "WRONG CODE": 4,
    "UNCLEAN": 5,
    "NO_CLOSE": 5,
    "FAILED": 6,
}
UNKNOWN_RANK = 7
ORDER = ["OK", "NON-STRICT", "INFORMATIONAL", "FAILED BY CLIENT", "UNIMPLEMENTED",
         "WRONG CODE", "UNCLEAN", "NO_CLOSE", "FAILED"]
FIELDS = ("behavior", "behaviorClose")
GOLDEN_FIELDS = ("behavior", "behaviorClose", "remoteCloseCode")


class InputError(Exception):
    pass


def rank(value):
    return RANK.get(value, UNKNOWN_RANK)


def set_strict():
    RANK["NON-STRICT"] = 1


def case_key(case_id):
    return tuple(int(p) if p.isdigit() else p for p in case_id.split("."))


def load(path, agent):
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError("cannot read %s: %s" % (path, e))
    if not isinstance(data, dict):
        raise InputError("%s: not a wstest index.json" % path)
    if agent not in data:
        raise InputError("%s: no results for agent %r (has: %s); did wstest reach the server?"
                         % (path, agent, ", ".join(sorted(data)) or "none"))
    cases = data[agent]
    if not cases:
        raise InputError("%s: agent %r has no cases" % (path, agent))
    return cases


def counts_table(columns):
    """columns: list of (title, {case: result}). One row per behaviour."""
    seen = set()
    for _, cases in columns:
        for r in cases.values():
            for field in FIELDS:
                seen.add(r.get(field))
    rows = [b for b in ORDER if b in seen] + sorted(str(b) for b in seen if b not in ORDER)
    head = ["behaviour"]
    for title, _ in columns:
        head += ["%s %s" % (title, field) for field in FIELDS]
    table = [head]
    for b in rows:
        line = [b]
        for _, cases in columns:
            for field in FIELDS:
                line.append(str(sum(1 for r in cases.values() if str(r.get(field)) == b)))
        table.append(line)
    total = ["total cases"]
    for _, cases in columns:
        total += [str(len(cases))] * len(FIELDS)
    table.append(total)
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    out = []
    for n, row in enumerate(table):
        out.append("  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                             for i, c in enumerate(row)))
        if n == 0 or n == len(table) - 2:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def describe(case_id, base, new, base_name, new_name):
    parts = []
    for field in FIELDS:
        a, b = base.get(field), new.get(field)
        if a != b:
            parts.append("%s %s -> %s" % (field, a, b))
    if base.get("remoteCloseCode") != new.get("remoteCloseCode"):
        parts.append("remoteCloseCode %s -> %s"
                     % (base.get("remoteCloseCode"), new.get("remoteCloseCode")))
    return "  %-9s %s (%s -> %s)" % (case_id, "; ".join(parts), base_name, new_name)


def diff(base, new, base_name, new_name, skip_missing=None):
    """Returns (worse, better, notes, not_run); the first three are lists
    of printable lines, not_run a list of case ids.

    skip_missing: case ids absent from `new` that are not to count as worse
    (cases that were not run at all)."""
    worse, better, notes, not_run, missing = [], [], [], [], []
    for case_id in sorted(set(base) | set(new), key=case_key):
        if case_id not in new:
            if skip_missing is not None and case_id in skip_missing:
                not_run.append(case_id)
            else:
                missing.append(case_id)
            continue
        if case_id not in base:
            notes.append("  %-9s only in %s: %s / %s" % (case_id, new_name,
                         new[case_id].get("behavior"), new[case_id].get("behaviorClose")))
            continue
        a, b = base[case_id], new[case_id]
        deltas = [rank(b.get(f)) - rank(a.get(f)) for f in FIELDS]
        line = describe(case_id, a, b, base_name, new_name)
        if any(d > 0 for d in deltas):
            worse.append(line)
        elif any(d < 0 for d in deltas):
            better.append(line)
        elif any(a.get(f) != b.get(f) for f in GOLDEN_FIELDS):
            notes.append(line)
    if missing:
        shown = ", ".join(missing[:12]) + (", ..." if len(missing) > 12 else "")
        worse.append("  %d case(s) run in %s missing from %s (server/proxy gone?): %s"
                     % (len(missing), base_name, new_name, shown))
    return worse, better, notes, not_run


def section(title, lines):
    if lines:
        print("%s:" % title)
        print("\n".join(lines))


def golden_data(cases):
    out = collections.OrderedDict()
    for case_id in sorted(cases, key=case_key):
        out[case_id] = collections.OrderedDict(
            (f, cases[case_id].get(f)) for f in GOLDEN_FIELDS)
    return out


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", help="directory holding <agent>/index.json for both agents")
    ap.add_argument("--direct-agent", default="direct")
    ap.add_argument("--proxy-agent", default="wsdiag")
    ap.add_argument("--golden", metavar="FILE",
                    help="also fail if the proxied results are worse than this golden file")
    ap.add_argument("--strict", action="store_true",
                    help="rank NON-STRICT below OK instead of equal to it")
    ap.add_argument("--write-golden", metavar="FILE",
                    help="write the proxied results (stable fields only) to FILE")
    ap.add_argument("--direct-only", action="store_true",
                    help="only the direct report exists: print its counts, compare nothing")
    args = ap.parse_args()

    d_name, p_name = args.direct_agent, args.proxy_agent
    if args.strict:
        set_strict()
    if args.direct_only:
        if args.golden or args.write_golden:
            ap.error("--golden and --write-golden need the proxied report, not --direct-only")
        try:
            direct = load(os.path.join(args.outdir, d_name, "index.json"), d_name)
        except InputError as e:
            print("compare.py: %s" % e, file=sys.stderr)
            return 2
        print(counts_table([(d_name, direct)]))
        print("\nRESULT: %s only, nothing compared" % d_name)
        return 0
    try:
        direct = load(os.path.join(args.outdir, d_name, "index.json"), d_name)
        proxied = load(os.path.join(args.outdir, p_name, "index.json"), p_name)
        golden = None
        if args.golden:
            golden = load(args.golden, p_name)
    except InputError as e:
        print("compare.py: %s" % e, file=sys.stderr)
        return 2

    print(counts_table([(d_name, direct), (p_name, proxied)]))
    print()
    worse, better, notes, _ = diff(direct, proxied, d_name, p_name)
    section("WORSE through %s than %s" % (p_name, d_name), worse)
    section("better through %s than %s" % (p_name, d_name), better)
    section("other differences (same rank, not a regression)", notes)
    if not (worse or better or notes):
        print("%s and %s agree on all %d cases" % (d_name, p_name, len(direct)))
    failed = bool(worse)

    if golden is not None:
        print()
        gworse, gbetter, gnotes, not_run = diff(golden, proxied, "golden", p_name,
                                                skip_missing=set(golden) - set(direct))
        section("WORSE than golden %s" % args.golden, gworse)
        section("better than golden (update it with --write-golden)", gbetter)
        section("other differences from golden (same rank)", gnotes)
        if not_run:
            print("%d golden cases not run (excluded), %s .. %s"
                  % (len(not_run), not_run[0], not_run[-1]))
        if not (gworse or gbetter or gnotes):
            print("%s matches golden %s on all %d cases run"
                  % (p_name, args.golden, len(golden) - len(not_run)))
        failed = failed or bool(gworse)

    if args.write_golden:
        with open(args.write_golden, "w") as f:
            json.dump({p_name: golden_data(proxied)}, f, indent=2)
            f.write("\n")
        print("\nwrote golden %s (%d cases)" % (args.write_golden, len(proxied)))

    print("\nRESULT: %s" % ("REGRESSION" if failed else "ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
