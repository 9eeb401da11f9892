#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check that every public header compiles on its own, right after
qemu/osdep.h (which every .c includes first), and that no header
includes qemu/osdep.h itself.

usage: check-headers.py SRCROOT BUILDROOT CC [CFLAGS...]
"""
import os
import subprocess
import sys
import tempfile


def main():
    src, build, cc = sys.argv[1], sys.argv[2], sys.argv[3:]
    inc = os.path.join(src, "include")
    headers = []
    for root, _, files in os.walk(inc):
        for f in files:
            if f.endswith(".h"):
                headers.append(os.path.relpath(os.path.join(root, f), inc))
    headers.sort()
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for h in headers:
            if h == "qemu/osdep.h":
                continue
            with open(os.path.join(inc, h)) as f:
                if '#include "qemu/osdep.h"' in f.read():
                    print(f"not ok - {h} includes qemu/osdep.h")
                    bad += 1
                    continue
            c = os.path.join(tmp, "t.c")
            with open(c, "w") as f:
                f.write(f'#include "qemu/osdep.h"\n#include "{h}"\n'
                        f'#include "{h}"\n')
            cmd = cc + ["-fsyntax-only", "-I" + inc, "-I" + src,
                        "-I" + build, c]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                print(f"not ok - {h}\n{r.stderr}")
                bad += 1
    print(f"{len(headers) - 1 - bad} headers ok, {bad} bad")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
