#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""qemu-storage-daemon's command line: help, version, and every kind of
bad option or value exits 1 with a message naming the option, as
Debian's qemu-storage-daemon does (exit statuses compared when it is
installed); the JSON forms of --blockdev and --object."""

import os
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import nbdtest                      # noqa: E402
from nbdtest import check           # noqa: E402
from qmpclient import QMPClient     # noqa: E402

DEBIAN_QSD = "/usr/bin/qemu-storage-daemon"
t = nbdtest.Test()


def run(binary, args):
    r = subprocess.run([binary] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


rc, out, _ = run(t.qemu_nbd, ["-h"])
check(t, rc == 0 and "--blockdev" in out and "--nbd-server" in out, "-h")
rc, out, _ = run(t.qemu_nbd, ["--version"])
check(t, rc == 0 and out.startswith("qemu-storage-daemon version"), "-V")
rc, out, _ = run(t.qemu_nbd, ["--object", "help"])
check(t, rc == 0 and "iothread" in out, "--object help")
t.ok("-h, -V, --object help")

BAD = [
    (["--bogus"], "--bogus"),
    (["-x"], "'x'"),
    (["--blockdev"], "--blockdev"),
    (["extra"], "extra"),
    (["--blockdev", "driver=nope,node-name=x"], "--blockdev"),
    (["--blockdev", "node-name=x"], "'driver'"),
    (["--blockdev", '{"driver": "null-co", "node-name": "n"'], "JSON"),
    (["--blockdev", "driver=null-co,node-name=n",
      "--blockdev", "driver=null-co,node-name=n"], "--blockdev"),
    (["--blockdev", "driver=file,node-name=f,filename=/nonexistent/x"],
     "--blockdev"),
    (["--export", "type=nbd,id=e,node-name=x"], "node-name='x'"),
    (["--blockdev", "driver=null-co,node-name=n",
      "--export", "type=nbd,id=e,node-name=n"], "--export"),
    (["--monitor", "chardev=zz"], '"zz"'),
    (["--nbd-server", "addr.type=unix"], "'addr.path'"),
    (["--nbd-server", "addr.type=carrier-pigeon"], "--nbd-server"),
    (["--nbd-server", "addr.type=unix,addr.path=/x,max-connections=x"],
     "--nbd-server"),
    (["--object", "iothread,id=a,bogus=1"], "bogus"),
    (["--object", "no-such-type,id=a"], "--object"),
    (["--object", "iothread,id=a", "--object", "iothread,id=a"], "--object"),
    (["--chardev", "socket,id=c"], "--chardev"),
    (["--trace", "file="], ""),
]
for args, needle in BAD:
    rc, _, err = run(t.qemu_nbd, args)
    check(t, rc == 1 and needle in err and "Assertion" not in err,
          "%s: exit %d, %r" % (args, rc, err))
t.ok("%d bad command lines exit 1 with a message" % len(BAD))

if not os.access(DEBIAN_QSD, os.X_OK):
    t.skip_part("Debian's qemu-storage-daemon is not installed")
else:
    for args, _ in BAD:
        if args[0] == "--trace":
            continue
        rc, _, err = run(DEBIAN_QSD, args)
        check(t, rc == 1, "Debian's daemon: %s exit %d %r" % (args, rc, err))
    t.ok("Debian's daemon refuses the same command lines")

# JSON forms of --object and --blockdev.
sock = t.path("qmp.sock")
p = t.start(["--object", '{"qom-type": "iothread", "id": "io0"}',
             "--blockdev", '{"driver": "null-co", "node-name": "n0", '
             '"size": 1048576, "read-zeroes": true}',
             "--chardev", "socket,id=m,path=%s,server=on,wait=off" % sock,
             "--monitor", "m"], sock=sock)
c = QMPClient(sock)
c.negotiate()
check(t, [x["id"] for x in c.cmd("query-iothreads")] == ["io0"],
      "JSON --object")
check(t, [x["node-name"] for x in c.cmd("query-named-block-nodes")] ==
      ["n0"], "JSON --blockdev")
c.close()
t.stop(p, timeout=30)
t.ok("JSON --object and --blockdev; --monitor with an implied chardev")

# --nbd-server over TCP, --trace with a pattern: Debian's qemu-io reads
# through the export and the server's events are written.
qemu_io = shutil.which("qemu-io")
if not qemu_io:
    t.skip_part("Debian's qemu-io is not installed")
else:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    p = t.start(["-T", "nbd_server_client_*",
                 "--blockdev", "driver=null-co,node-name=n0,read-zeroes=on",
                 "--nbd-server", "addr.type=inet,addr.host=127.0.0.1,"
                 "addr.port=%d" % port,
                 "--export", "nbd,id=e0,node-name=n0"])
    ok = False
    for _ in range(100):
        r = subprocess.run([qemu_io, "-r", "-f", "raw", "-c",
                            "read -P 0 0 64k",
                            "nbd://127.0.0.1:%d/n0" % port],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode == 0 and b"failed" not in r.stdout:
            ok = True
            break
        time.sleep(0.1)
    check(t, ok, "qemu-io over TCP: %s" % r.stdout.decode())
    t.stop(p, timeout=30)
    check(t, "nbd_server_client_connect" in t.log(p), "no trace output")
    t.ok("--nbd-server addr.type=inet, --export with implied type, "
         "--trace pattern")

t.done()
