#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Run a libFuzzer target for a bounded time over a scratch copy of its seed
# corpus (libFuzzer adds what it finds to its first corpus directory), and
# print one line with the result. Crash inputs land beside the binary.
#
# usage: run-fuzz.sh FUZZER CORPUS_DIR [SECONDS]
set -u

fuzzer=$1
corpus=$2
secs=${3:-60}
name=$(basename "$fuzzer")
outdir=$(cd "$(dirname "$fuzzer")" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
cp -R "$corpus"/. "$work"/

"$fuzzer" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$outdir/$name-" "$work" >"$work.log" 2>&1
rc=$?
stats=$(grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' \
        "$work.log" | sed 's/^stat:://' | tr -s "\n " "  ")
cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$work.log" | tail -n 1 |
      sed -n 's/.*\(cov: [0-9]*\).*\(ft: [0-9]*\).*/\1 \2/p')
if [ $rc -eq 0 ]; then
    echo "$name: OK, ${secs}s, $stats$cov"
else
    tail -n 60 "$work.log"
    echo "$name: FAILED (exit $rc), crash input in $outdir/$name-*"
fi
rm -f "$work.log"
exit $rc
