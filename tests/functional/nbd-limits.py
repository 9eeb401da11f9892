#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Clients that connect and never finish the handshake (a server that
waits for them forever runs out of slots; one that frees a client while
its negotiation is still running uses it after free).

- With a connection limit, idle sockets fill the server up and a further
  client is not served; the handshake time limit then drops the idle ones
  and the waiting client gets through and reads correct data.
- Stopping the server (SIGTERM) while many clients are in the middle of
  negotiating, TLS handshakes included, exits cleanly (no use after free,
  which the sanitizer build would report) and in time. The TLS rounds
  need certtool; without it they are left out and the test ends skipped.

Time limits are loose (a loaded machine is slow), but the handshake
limit must not drop a client before it is due.
"""

import os
import shutil
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nbdclient as n  # noqa: E402
from nbdtest import Test, check  # noqa: E402

MiB = 1 << 20
t = Test()
PATTERN = b"\x3d" * 65536
img = t.image("disk.img", 16 * MiB, [(MiB, PATTERN)])

# 1. Connection limit 4, handshake limit 2 s.
sock = t.path("limit.sock")
srv = t.start(["-t", "-e", "4", "--handshake-limit", "2", "-f", "raw",
               "-k", sock, img], sock)
idle = [n.connect(sock) for _ in range(4)]
for s in idle:
    s.recv(18)                  # accepted and greeted, then silence
start = time.time()
late = n.Client(sock, timeout=15)
late.s.settimeout(1)
try:
    got = late.s.recv(18)
except OSError:
    got = b""
check(t, got == b"", "a client beyond the limit was greeted at once")
t.ok("4 idle sockets hold the 4 connection slots")

for s in idle:
    check(t, n.is_closed(s, timeout=60), "idle socket not dropped in time")
elapsed = time.time() - start
# The idle sockets were greeted before `start`, so their 2 s were not all
# over by then; 1.5 s allows for that.
check(t, elapsed >= 1.5,
      "idle sockets dropped after %.1f s, before the 2 s limit" % elapsed)
t.ok("the handshake limit drops the idle sockets (after %.1f s)" % elapsed)

late.s.settimeout(60)
late.connect_export("")
err, data, _ = late.read(MiB, len(PATTERN))
check(t, err == 0 and data == PATTERN, "waiting client: data")
late.disconnect()
check(t, t.alive(srv), "server died")
t.ok("the waiting client is served once slots are free")

# A client in transmission is not subject to the handshake limit.
c = n.Client(sock).connect_export("")
time.sleep(2.5)
err, data, _ = c.read(MiB, len(PATTERN))
check(t, err == 0 and data == PATTERN, "slow client in transmission")
c.disconnect()
t.stop(srv)
t.ok("clients in transmission outlive the handshake limit")

# 2. Stop the server while clients negotiate (plain and TLS).
have_certtool = shutil.which("certtool") is not None
args = ["-t", "-e", "0", "-f", "raw"]
if have_certtool:
    pki = t.path("pki")
    os.mkdir(pki)
    gen = subprocess.run(
        ["bash", "-c", '. "$0"; gen_pki "$1"',
         os.path.join(os.environ.get("SRCDIR", "."),
                      "tests/interop/common.sh"), pki],
        env=dict(os.environ, QEMU_NBD=t.qemu_nbd),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(t, gen.returncode == 0, "certtool could not make certificates: "
          + gen.stdout)
else:
    t.skip_part("SIGTERM during TLS handshakes: certtool is not installed")
for round_ in range(3 if have_certtool else 1):
    sock = t.path("stop%d.sock" % round_)
    extra = []
    if round_ > 0:
        extra = ["--object",
                 "tls-creds-x509,id=tls0,endpoint=server,dir=" + pki,
                 "--tls-creds", "tls0"]
    srv = t.start(args + extra + ["-k", sock, img], sock)
    clients = []
    for i in range(40):
        s = n.connect(sock)
        stage = i % 5
        if stage >= 1:
            s.recv(18)
        if stage >= 2:
            s.sendall(struct.pack(">I", 3))
        if stage == 3:
            s.sendall(struct.pack(">QII", n.IHAVEOPT, n.OPT_GO, 100) + b"x")
        if stage == 4:
            s.sendall(struct.pack(">QII", n.IHAVEOPT, n.OPT_STARTTLS, 0))
            if extra:
                s.recv(20)
                # half a TLS ClientHello
                s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        clients.append(s)
    # One client in transmission, with requests flowing.
    busy = n.Client(sock)
    if not extra:
        busy.connect_export("")
        busy.send_request(n.CMD_READ, 0, MiB)
    time.sleep(0.3)
    t.stop(srv, timeout=10)
    for s in clients:
        s.close()
    busy.close()
    t.ok("SIGTERM with 40 clients mid-negotiation%s: clean exit"
         % (" (TLS)" if extra else ""))

t.done()
