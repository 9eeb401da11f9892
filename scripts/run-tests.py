#!/usr/bin/env python3
"""Run meson test suites in one or more build directories and print the
plain summary line `N passed, M failed, K skipped` last.

usage: run-tests.py BUILDDIR:SUITE[,SUITE...] [BUILDDIR:SUITE ...]
"""
import json
import os
import subprocess
import sys


def run(builddir, suites):
    cmd = ["meson", "test", "-C", builddir, "--print-errorlogs",
           "--num-processes", str(os.cpu_count() or 2)]
    for s in suites:
        cmd += ["--suite", s]
    env = dict(os.environ)
    print("==>", " ".join(cmd), flush=True)
    subprocess.run(cmd, env=env)
    passed = failed = skipped = 0
    log = os.path.join(builddir, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        return 0, 1, 0
    with open(log) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            res = r.get("result")
            name = builddir + ": " + r.get("name", "?")
            if res in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif res == "SKIP":
                skipped += 1
                print("skipped:", name)
            else:
                failed += 1
                print("FAILED:", name, res)
    return passed, failed, skipped


def main():
    total = [0, 0, 0]
    for arg in sys.argv[1:]:
        builddir, _, suites = arg.partition(":")
        p, f, s = run(builddir, [x for x in suites.split(",") if x])
        total[0] += p
        total[1] += f
        total[2] += s
    print(f"{total[0]} passed, {total[1]} failed, {total[2]} skipped")
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main())
