#!/usr/bin/env bash
# CI fuzz smoke test: builds the fuzz targets and runs each for
# FUZZ_SECONDS (default 60) seconds, one after the other, one process each.
# Exits non-zero when any target crashes (panic, timeout, out of memory);
# the reproducer is left in fuzz/artifacts/<target>/ (upload it from CI).
#
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its
# nightly-only flags (-Zsanitizer, -Cpasses=sancov-module).
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
TARGETS=(capture_reader error_pages frames http_heads message_classifier)

cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# -s none: wsdiag forbids unsafe code, so AddressSanitizer finds little and
# halves the speed; panics, timeouts and OOMs are what fuzzing catches here.
cargo fuzz build -s none

failed=()
for target in "${TARGETS[@]}"; do
    max_len=65536
    [[ $target == capture_reader ]] && max_len=262144
    # New inputs go to a scratch directory: the committed corpus is read,
    # never grown, by CI.
    scratch=$(mktemp -d)
    echo "== $target: ${FUZZ_SECONDS}s"
    if ! cargo fuzz run -s none "$target" "$scratch" "corpus/$target" -- \
        -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -max_len="$max_len" \
        -timeout=10 -print_final_stats=1; then
        failed+=("$target")
    fi
    rm -rf "$scratch"
done

if ((${#failed[@]})); then
    echo "fuzz smoke: crashed: ${failed[*]} (reproducers in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz smoke: ${#TARGETS[@]} targets, ${FUZZ_SECONDS}s each, no crash"
