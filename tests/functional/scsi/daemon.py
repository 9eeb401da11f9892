#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The daemon side of qemu-pr-helper, next to Debian's: privileges after
the drop (/proc/PID/status), -u/-g, the pid file, SIGTERM, socket
activation and command line errors.

usage: daemon.py OUR-HELPER DEBIAN-HELPER [--mpath]

--mpath: our helper is built with multipath support and keeps
CAP_SYS_ADMIN too (Debian's is built without).
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prhelper import Helper, Tap, skip, tmpdir  # noqa

FIELDS = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd",
          "CapAmb")


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in FIELDS:
                out[k] = v.strip()
    return out


def main():
    ours, ref = sys.argv[1], sys.argv[2]
    mpath = "--mpath" in sys.argv[3:]
    # CAP_SYS_RAWIO (17), and CAP_SYS_ADMIN (21) with multipath
    caps = (1 << 17) | ((1 << 21) if mpath else 0)
    want_caps = f"{caps:016x}"
    if os.geteuid() != 0:
        skip("needs root to check the privilege drop")
    have_ref = os.access(ref, os.X_OK)
    tap = Tap()
    with tmpdir() as work:
        os.chmod(work, 0o777)
        for extra in ((), ("-u", "nobody", "-g", "nogroup")):
            h = Helper(ours, work, "ours", extra)
            mine = status(h.proc.pid)
            with open(h.pidfile) as f:
                pid = f.read()
            h.stop()
            tap.ok(mine["CapEff"] == want_caps and
                   mine["CapPrm"] == want_caps and
                   mine["CapBnd"] == "0000000000000000",
                   f"{extra}: only CAP_SYS_RAWIO" +
                   (" and CAP_SYS_ADMIN" if mpath else "") +
                   " left, bounding set empty", mine)
            tap.ok(pid == f"{h.proc.pid}\n", f"{extra}: pid file", pid)
            if extra:
                tap.ok(mine["Uid"].split()[0] == "65534" and
                       mine["Groups"] == "", "-u nobody -g nogroup", mine)
            if have_ref:
                r = Helper(ref, work, "ref", extra)
                theirs = status(r.proc.pid)
                r.stop()
                if mpath:
                    # Debian's helper is built without multipath.
                    for k in ("CapEff", "CapPrm"):
                        theirs[k] = f"{int(theirs[k], 16) | (1 << 21):016x}"
                tap.ok(mine == theirs, f"{extra}: same as {ref}",
                       f"ours {mine}\nref  {theirs}")

        h = Helper(ours, work, "ours")
        rc, err = h.stop()
        tap.ok(rc == 0 and not os.path.exists(h.sock),
               "SIGTERM: exit 0, socket removed", err)

        if have_ref:
            for args in (["-k", "rel.sock"], ["--bogus"],
                         ["-k", "/nonexistent/x.sock"],
                         ["-u", "no-such-user"], ["-g", "no-such-group"]):
                a = subprocess.run([ours] + args, capture_output=True,
                                   text=True, timeout=10)
                b = subprocess.run([ref] + args, capture_output=True,
                                   text=True, timeout=10)
                norm = (a.stderr.replace(ours, "PROG")
                        .replace(os.path.basename(ours), "NAME"))
                normb = (b.stderr.replace(ref, "PROG")
                         .replace(os.path.basename(ref), "NAME"))
                tap.ok(a.returncode == b.returncode and norm == normb,
                       f"{args}: same exit code and message",
                       f"ours {a.returncode} {a.stderr!r}\n"
                       f"ref  {b.returncode} {b.stderr!r}")
            a = subprocess.run([ours, "-h"], capture_output=True, text=True)
            b = subprocess.run([ref, "-h"], capture_output=True, text=True)
            # The default paths follow the build's localstatedir.
            dflt = re.compile(r"\(default '[^']*/run/")
            tap.ok(dflt.sub("(default '", a.stdout.replace(ours, "PROG")) ==
                   dflt.sub("(default '", b.stdout.replace(ref, "PROG")),
                   "-h output", a.stdout)

        # Socket activation: one fd at 3; -k is then refused.
        import socket
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        path = os.path.join(work, "act.sock")
        ls.bind(path)
        ls.listen(1)
        code = ("import os,sys; os.dup2(int(sys.argv[1]), 3); "
                "os.environ['LISTEN_PID']=str(os.getpid()); "
                "os.environ['LISTEN_FDS']=sys.argv[2]; "
                "os.execv(sys.argv[3], sys.argv[3:])")
        p = subprocess.Popen([sys.executable, "-c", code, str(ls.fileno()),
                              "1", ours], pass_fds=[ls.fileno()],
                             stderr=subprocess.PIPE)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(10)
        c.connect(path)
        hello = c.recv(4)
        c.close()
        p.terminate()
        p.wait(timeout=10)
        tap.ok(hello == bytes(4), "socket activation: greeting on fd 3",
               hello)
        r = subprocess.run([sys.executable, "-c", code, str(ls.fileno()),
                            "2", ours], pass_fds=[ls.fileno()],
                           capture_output=True, text=True, timeout=10)
        tap.ok(r.returncode == 1 and "LISTEN_FDS > 1" in r.stderr,
               "LISTEN_FDS=2 refused", r.stderr)
        r = subprocess.run([sys.executable, "-c", code, str(ls.fileno()),
                            "1", ours, "-k", "/tmp/x.sock"],
                           pass_fds=[ls.fileno()], capture_output=True,
                           text=True, timeout=10)
        tap.ok(r.returncode == 1 and "can't be set" in r.stderr,
               "-k refused with socket activation", r.stderr)
        ls.close()
    tap.done()


if __name__ == "__main__":
    main()
