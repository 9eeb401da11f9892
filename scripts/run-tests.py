#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Run meson test suites in one or more build directories and print the
plain summary line `N passed, M failed, K skipped` last.

usage: run-tests.py BUILDDIR:SUITE[,SUITE...] [BUILDDIR:SUITE ...]

The counts are those of this run only:
- the previous run's testlog.json is deleted first; a run that leaves no
  new log, or exits 125 (the build failed), is a failure, and meson's exit
  status (its count of failed tests) must agree with the log;
- each suite asked for must name at least one test (`meson test --list`),
  and the log must hold exactly one result per listed test;
- a test whose output has TAP subtests marked `# SKIP` (g_test_skip, a
  script that could run only part of its checks) counts as skipped, not
  passed, and the skipped subtests are named.

With QEMU_TEST_REQUIRE_ALL=1 in the environment (`make check`, where
scripts/install-deps.sh has installed every peer program) anything
skipped, whole or in part, counts as failed.

The sanitizer options are set here unless the caller set them: a report
stops the program (ASan, UBSan) or fails its exit status (TSan), so a test
cannot pass over one; the shell and Python harnesses add log_path so that
the reports of daemons, whose stderr is /dev/null, are found too.
"""
import json
import os
import re
import subprocess
import sys

SANITIZER_OPTIONS = {
    "ASAN_OPTIONS": "halt_on_error=1:abort_on_error=0:exitcode=23:"
                    "detect_leaks=1:print_summary=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:exitcode=23:"
                     "print_summary=1",
    "TSAN_OPTIONS": "halt_on_error=0:exitcode=66:print_summary=1:"
                    "second_deadlock_stack=1",
}

# The results meson counts in its exit status.
BAD = ("FAIL", "ERROR", "INTERRUPT", "TIMEOUT", "UNEXPECTEDPASS")

# A TAP subtest that was skipped ("ok 3 /aio/foo # SKIP no io_uring"), or
# a plan that skips everything ("1..0 # SKIP reason").
SKIP_LINE = re.compile(r"^\s*(?:(?:not\s+)?ok\b[^#]*|1\.\.0\s*)#\s*SKIP\b"
                       r"[\s:-]*(.*)$", re.IGNORECASE)


def strict():
    return os.environ.get("QEMU_TEST_REQUIRE_ALL", "") not in ("", "0")


def listed(builddir, suites):
    """The tests meson would run for SUITES, or None (with a message) when
    a suite names none."""
    names = []
    for s in suites:
        r = subprocess.run(["meson", "test", "-C", builddir, "--list",
                            "--no-rebuild",
                            "--suite", s], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        got = [ln for ln in r.stdout.splitlines()
               if ln.strip() and not ln.startswith(("No ", "ninja:"))]
        if r.returncode != 0 or not got:
            print(f"FAILED: {builddir}: suite '{s}' names no test:",
                  r.stdout.strip(), flush=True)
            return None
        names += [n for n in got if n not in names]
    return names


def skip_reason(stdout):
    for line in reversed((stdout or "").splitlines()):
        if "SKIP" in line.upper():
            return line.strip()
    return ""


def run(builddir, suites):
    """(passed, failed, skipped) of one meson test run."""
    expected = listed(builddir, suites)
    if expected is None:
        return 0, 1, 0
    cmd = ["meson", "test", "-C", builddir, "--print-errorlogs",
           "--num-processes", str(os.cpu_count() or 2)]
    for s in suites:
        cmd += ["--suite", s]
    env = dict(os.environ)
    for k, v in SANITIZER_OPTIONS.items():
        env.setdefault(k, v)
    log = os.path.join(builddir, "meson-logs", "testlog.json")
    try:
        os.unlink(log)
    except FileNotFoundError:
        pass
    print("==>", " ".join(cmd), flush=True)
    rc = subprocess.run(cmd, env=env).returncode
    if rc == 125 or rc < 0 or not os.path.exists(log):
        print(f"FAILED: {builddir}: meson test exited with {rc} and"
              f" {'wrote' if os.path.exists(log) else 'wrote no'} {log}"
              " (a build failure, or meson could not run the tests)")
        return 0, 1, 0

    passed = failed = skipped = 0
    results = bad = 0
    with open(log) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            results += 1
            r = json.loads(line)
            res = r.get("result")
            name = builddir + ": " + r.get("name", "?")
            out = r.get("stdout") or ""
            parts = [m.group(1).strip() or "(no reason given)"
                     for m in map(SKIP_LINE.match, out.splitlines()) if m]
            if res in ("OK", "EXPECTEDFAIL") and not parts:
                passed += 1
                continue
            if res in ("OK", "EXPECTEDFAIL", "SKIP"):
                what = "skipped" if res == "SKIP" else "skipped in part"
                why = parts or [skip_reason(out) or "(no reason given)"]
                if strict():
                    failed += 1
                    print(f"FAILED: {name} {what}, which"
                          " QEMU_TEST_REQUIRE_ALL forbids:")
                else:
                    skipped += 1
                    print(f"{what}: {name}:")
                for p in why:
                    print("    SKIP", p)
                continue
            failed += 1
            if res in BAD:
                bad += 1
            print("FAILED:", name, res)
    # meson's status is its count of bad results (125: the build failed).
    if rc != bad:
        print(f"FAILED: {builddir}: meson test exited with {rc}, but the"
              f" log has {bad} failed results")
        failed += 1
    if results != len(expected):
        print(f"FAILED: {builddir}: {results} results for"
              f" {len(expected)} tests listed for {','.join(suites)}")
        failed += 1
    sys.stdout.flush()
    return passed, failed, skipped


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    total = [0, 0, 0]
    for arg in sys.argv[1:]:
        builddir, _, suites = arg.partition(":")
        suites = [x for x in suites.split(",") if x]
        if not suites:
            print(f"FAILED: {arg}: no suite named")
            total[1] += 1
            continue
        p, f, s = run(builddir, suites)
        total[0] += p
        total[1] += f
        total[2] += s
    print(f"{total[0]} passed, {total[1]} failed, {total[2]} skipped")
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main())
