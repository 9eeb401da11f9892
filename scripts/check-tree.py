#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Checks that the tree stands on its own.

usage: check-tree.py SOURCE_ROOT

- every source file (C, headers, Python, shell, meson, trace-events,
  Makefile, Markdown) carries an SPDX licence line near its top;
- every F:/X: pattern in MAINTAINERS matches a file, and every file is
  covered by some F: pattern;
- no file refers to notes outside the tree, and relative links in the
  Markdown documents resolve.

Prints one line per problem and exits 1 if there is any.
"""
import fnmatch
import os
import re
import subprocess
import sys

SPDX = "SPDX-License-Identifier: GPL-2.0-or-later"
# Files whose format has no room for a comment, or that are not ours.
NO_SPDX = {"COPYING", ".gitignore"}
SKIP_DIRS = {".git", "__pycache__"}
SKIP_PREFIXES = ("tests/fuzz/corpus/", "build")
SOURCE_SUFFIXES = (".c", ".h", ".py", ".sh", ".md", ".build", ".txt",
                   ".S")
SOURCE_NAMES = {"Makefile", "trace-events", "run"}

# References that only make sense outside this tree: the founders' notes
# and the numbering of their list of failure modes.
OUTSIDE_REFS = [
    (re.compile(r"\.\./shared/|\bshared/(DESIGN|STYLE|TRAPS)"),
     "refers to notes outside the tree"),
    (re.compile(r"TRAPS[.]md"), "refers to the founders' list of traps, "
     "which is not in the tree (see docs/devel/failure-modes.md)"),
    (re.compile(r"\b[TR][0-9]{1,2}\b"),
     "names a failure mode by number; name it as "
     "docs/devel/failure-modes.md does"),
]

MD_LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


def tracked_files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files"], check=True,
                             capture_output=True, text=True).stdout
        files = [f for f in out.splitlines() if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(root):
            dirs[:] = [x for x in dirs if x not in SKIP_DIRS and
                       not x.startswith("build")]
            for n in names:
                files.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(f for f in files
                  if not f.startswith(SKIP_PREFIXES) and
                  os.path.exists(os.path.join(root, f)))


def is_source(path):
    base = os.path.basename(path)
    return base in SOURCE_NAMES or base.endswith(SOURCE_SUFFIXES)


def check_spdx(root, files, problems):
    for f in files:
        if os.path.basename(f) in NO_SPDX or not is_source(f):
            continue
        with open(os.path.join(root, f), errors="replace") as fh:
            head = [fh.readline() for _ in range(3)]
        if not any(SPDX in line for line in head):
            problems.append(f"{f}: no '{SPDX}' line in its first "
                            "three lines")


def maintainers_patterns(root):
    pats = []
    with open(os.path.join(root, "MAINTAINERS")) as fh:
        for n, line in enumerate(fh, 1):
            m = re.match(r"([FX]):\s*(\S+)", line)
            if m:
                pats.append((n, m.group(1), m.group(2)))
    return pats


def pattern_matches(pat, path):
    if pat.endswith("/"):
        return path.startswith(pat)
    return fnmatch.fnmatchcase(path, pat)


def check_maintainers(root, files, problems):
    pats = maintainers_patterns(root)
    for n, kind, pat in pats:
        if not any(pattern_matches(pat, f) for f in files):
            problems.append(f"MAINTAINERS:{n}: {kind}: {pat} matches no "
                            "file")
    covered = [p for _, k, p in pats if k == "F"]
    for f in files:
        if not any(pattern_matches(p, f) for p in covered):
            problems.append(f"{f}: not covered by any F: line of "
                            "MAINTAINERS")


def check_references(root, files, problems):
    me = os.path.relpath(os.path.abspath(__file__), os.path.abspath(root))
    for f in files:
        if f == me or not is_source(f):
            continue
        path = os.path.join(root, f)
        with open(path, errors="replace") as fh:
            text = fh.read()
        for n, line in enumerate(text.splitlines(), 1):
            for rx, why in OUTSIDE_REFS:
                if rx.search(line):
                    problems.append(f"{f}:{n}: {why}")
        if f.endswith(".md"):
            for m in MD_LINK.finditer(text):
                target = m.group(1)
                if "://" in target or target.startswith("mailto:"):
                    continue
                dest = os.path.normpath(os.path.join(os.path.dirname(path),
                                                     target))
                if not os.path.exists(dest):
                    problems.append(f"{f}: link to {target} does not "
                                    "resolve")


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = sys.argv[1]
    files = tracked_files(root)
    if not files:
        print(f"check-tree: no files found under {root}", file=sys.stderr)
        return 1
    problems = []
    check_spdx(root, files, problems)
    check_maintainers(root, files, problems)
    check_references(root, files, problems)
    for p in problems:
        print(p)
    print(f"check-tree: {len(files)} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
