#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""qemu-storage-daemon: an NBD export in an iothread outlives every way a
client can end (clean disconnect, reset, SIGKILLed qemu-io, half-sent
request or handshake), Debian's qemu-io and qemu-img write and read back
patterns through it, block-export-del (safe refuses, hard disconnects)
and blockdev-del with a client connected, and SIGTERM with a client in
the middle of requests: exit 0, data on disk, pid file removed.
QSD_ENDINGS sets the number of client endings (default 50)."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import nbdclient                    # noqa: E402
import nbdtest                      # noqa: E402
from nbdtest import check           # noqa: E402
from qmpclient import QMPClient     # noqa: E402

t = nbdtest.Test()
qemu_io = shutil.which("qemu-io")
qemu_img = shutil.which("qemu-img")
if not qemu_io or not qemu_img:
    t.skip("Debian's qemu-io/qemu-img are not installed")

SIZE = 16 << 20
ENDINGS = int(os.environ.get("QSD_ENDINGS", "50"))
img = t.image("disk.img", SIZE)
nbd_sock = t.path("nbd.sock")
qmp_sock = t.path("qmp.sock")
pidfile = t.path("pid")
url = "nbd+unix:///exp0?socket=" + nbd_sock

p = t.start(["--chardev", "socket,id=m0,path=%s,server=on,wait=off"
             % qmp_sock, "--monitor", "chardev=m0",
             "--object", "iothread,id=io0",
             "--blockdev", '{"driver": "file", "node-name": "file0", '
             '"filename": "%s"}' % img,
             "--blockdev", "driver=raw,node-name=disk0,file=file0",
             "--nbd-server", "addr.type=unix,addr.path=" + nbd_sock,
             "--export", "type=nbd,id=exp0,node-name=disk0,name=exp0,"
             "writable=on,iothread=io0",
             "--pidfile", pidfile], sock=qmp_sock)
c = QMPClient(qmp_sock)
c.negotiate()
names = sorted(n["node-name"] for n in c.cmd("query-named-block-nodes"))
check(t, names == ["disk0", "file0"], "query-named-block-nodes %r" % names)


def qio(*cmds, check_ok=True):
    args = [qemu_io, "-f", "raw"]
    for cmd in cmds:
        args += ["-c", cmd]
    r = subprocess.run(args + [url], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    out = r.stdout.decode(errors="replace")
    if check_ok:
        check(t, r.returncode == 0 and "failed" not in out and
              "error" not in out.lower(), "qemu-io %s: %s" % (cmds, out))
    return out


def pattern_for(i):
    return (i * 37 + 11) % 251 + 1


def nbd_handshake_only(sock):
    """Reads the greeting, sends client flags, nothing more."""
    s = nbdclient.connect(sock)
    nbdclient.recv_exact(s, 18)
    s.sendall(struct.pack(">I", 3))
    return s


# Data through the iothread export with Debian's clients.
qio("write -P 0x5a 0 1M", "write -P 0x3c 8M 64k", "flush")
qio("read -P 0x5a 0 1M", "read -P 0x3c 8M 64k", "read -P 0 1M 1M")
r = subprocess.run([qemu_img, "compare", "-f", "raw", "-F", "raw", img,
                    url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
check(t, r.returncode == 0, "qemu-img compare: %s" % r.stdout.decode())
t.ok("Debian's qemu-io writes, reads back; qemu-img compare agrees")

# Many client endings; the export stays served.
kinds = {}
for i in range(ENDINGS):
    kind = i % 6
    kinds[kind] = kinds.get(kind, 0) + 1
    off = (i % 64) * 65536
    if kind == 0:                   # clean qemu-io session
        qio("write -P %d %d 64k" % (pattern_for(i), off))
    elif kind == 1:                 # reset in the middle of a request
        cl = nbdclient.Client(nbd_sock).connect_export("exp0")
        cl.send_request(nbdclient.CMD_WRITE, off, 65536, cookie=5,
                        payload=b"\x01" * 1000)
        cl.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        cl.s.close()
    elif kind == 2:                 # clean NBD_CMD_DISC after a read
        cl = nbdclient.Client(nbd_sock).connect_export("exp0")
        cl.read(off, 4096)
        cl.disconnect()
    elif kind == 3:                 # SIGKILLed qemu-io doing writes
        k = subprocess.Popen([qemu_io, "-f", "raw", "-c",
                              "aio_write -P 9 0 1M", "-c",
                              "aio_write -P 9 1M 1M", "-c", "aio_flush",
                              url], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(0.01 * (i % 5))
        k.kill()
        k.wait()
    elif kind == 4:                 # half a request header, then close
        cl = nbdclient.Client(nbd_sock).connect_export("exp0")
        cl.s.sendall(b"\x25\x60\x95\x13\x00\x00")
        cl.s.close()
    else:                           # gone during the handshake
        nbd_handshake_only(nbd_sock).close()
check(t, p.poll() is None, "daemon died during client endings")
# Kind 3 may have written pattern 9 into the first 2 MiB: rewrite and
# check every region once more.
qio("write -P 0x77 0 4M")
qio("read -P 0x77 0 4M", "read -P 0x3c 8M 64k")
check(t, c.cmd("query-block-exports")[0]["id"] == "exp0", "export gone")
t.ok("%d client endings %s; the export still serves and the data is right"
     % (ENDINGS, sorted(kinds.items())))

# block-export-del: safe refuses with a client, hard disconnects it.
cl = nbdclient.Client(nbd_sock).connect_export("exp0")
check(t, nbdclient.wait_for(lambda: True), "")
r = c.cmd_raw("block-export-del", {"id": "exp0"})
check(t, r.get("error", {}).get("class") == "GenericError" and
      "still in use" in r["error"]["desc"], "safe delete: %r" % r)
cl.read(0, 4096)
c.cmd("block-export-del", {"id": "exp0", "mode": "hard"})
ev = c.wait_event("BLOCK_EXPORT_DELETED")
check(t, ev["data"]["id"] == "exp0", "event %r" % ev)
check(t, nbdclient.is_closed(cl.s), "client not disconnected")
c.cmd("blockdev-del", {"node-name": "disk0"})
c.cmd("blockdev-del", {"node-name": "file0"})
t.ok("block-export-del safe refuses, hard disconnects; blockdev-del")

# Re-export in the iothread over QMP, then SIGTERM with a client in the
# middle of requests.
c.cmd("blockdev-add", {"driver": "raw", "node-name": "disk1",
                       "file": {"driver": "file", "filename": img}})
c.cmd("block-export-add", {"type": "nbd", "id": "exp0", "name": "exp0",
                           "node-name": "disk1", "writable": True,
                           "iothread": "io0"})
qio("read -P 0x77 0 4M")
busy = subprocess.Popen([qemu_io, "-f", "raw"] +
                        sum([["-c", "write -P 0x42 %d 1M" % (m << 20)]
                             for m in range(4, 8)] * 20, []) + [url],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(0.3)
c.close()
t.stop(p)
busy.wait(30)
check(t, not os.path.exists(pidfile), "pid file left behind")
with open(img, "rb") as f:
    head = f.read(4 << 20)
check(t, head == b"\x77" * (4 << 20), "data before SIGTERM lost")
t.ok("SIGTERM with a client mid-request: exit 0, data kept, pid file gone")

# SIGINT with 64 pipelined 96 KiB writes in flight (their replies not
# read): exit 0; each write is either wholly on disk or not at all.
p = t.start(["--object", "iothread,id=io0",
             "--blockdev", "driver=file,node-name=f,filename=" + img,
             "--nbd-server", "addr.type=unix,addr.path=" + nbd_sock,
             "--export", "type=nbd,id=e,node-name=f,name=exp0,writable=on,"
             "iothread=io0", "--pidfile", pidfile], sock=nbd_sock)
check(t, nbdclient.wait_for(lambda: os.path.exists(pidfile)), "pid file")
cl = nbdclient.Client(nbd_sock).connect_export("exp0")
chunk = 96 << 10
for i in range(64):
    cl.send_request(nbdclient.CMD_WRITE, (9 << 20) + i * chunk, chunk,
                    cookie=i + 1, payload=bytes([i + 1]) * chunk)
t.stop(p, sig=signal.SIGINT)
cl.s.close()
with open(img, "rb") as f:
    f.seek(9 << 20)
    for i in range(64):
        got = f.read(chunk)
        check(t, got in (bytes([i + 1]) * chunk, b"\x00" * chunk),
              "write %d torn by the shutdown" % i)
check(t, not os.path.exists(pidfile), "pid file left behind")
t.ok("SIGINT with 64 writes in flight: exit 0, no torn write, pid file "
     "gone")

# TLS (PSK) export in an iothread: the TLS channel's waits must follow
# the client's coroutine into the iothread. Debian's qemu-io as client;
# a client without credentials is refused.
psk_dir = t.path("psk")
os.mkdir(psk_dir)
with open(os.path.join(psk_dir, "keys.psk"), "w") as f:
    f.write("alice:" + os.urandom(32).hex() + "\n")
p = t.start(["--object", "tls-creds-psk,id=tls0,endpoint=server,dir=" +
             psk_dir, "--object", "iothread,id=io0",
             "--blockdev", "driver=file,node-name=f,filename=" + img,
             "--nbd-server", "addr.type=unix,addr.path=%s,tls-creds=tls0"
             % nbd_sock,
             "--export", "type=nbd,id=e,node-name=f,name=exp0,writable=on,"
             "iothread=io0"], sock=nbd_sock)
tls_client = ["--object", "tls-creds-psk,id=tls0,endpoint=client,"
              "username=alice,dir=" + psk_dir, "--image-opts",
              "driver=nbd,server.type=unix,server.path=%s,export=exp0,"
              "tls-creds=tls0" % nbd_sock]
for i in range(5):
    r = subprocess.run([qemu_io, "-c", "write -P %d %d 256k" % (0x60 + i,
                                                                 i << 18),
                        "-c", "read -P %d %d 256k" % (0x60 + i, i << 18)] +
                       tls_client, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    check(t, r.returncode == 0 and b"failed" not in r.stdout,
          "TLS qemu-io: %s" % r.stdout.decode())
out = qio("read 0 4k", check_ok=False)
check(t, "TLS" in out, "plain client not refused by a TLS server: " + out)
r = subprocess.run([qemu_io, "-c", "read -P 0x62 512k 256k"] + tls_client,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
check(t, r.returncode == 0 and b"failed" not in r.stdout,
      "TLS read back: %s" % r.stdout.decode())
t.stop(p)
t.ok("TLS-PSK export in an iothread: Debian's qemu-io writes and reads "
     "back; a plain client is refused")

# --daemonize: the parent exits once the export listens.
nbd2 = t.path("nbd2.sock")
r = subprocess.run([t.qemu_nbd, "--daemonize", "--pidfile", pidfile,
                    "--object", "iothread,id=io0",
                    "--blockdev", "driver=file,node-name=f,filename=" + img,
                    "--nbd-server", "addr.type=unix,addr.path=" + nbd2,
                    "--export", "type=nbd,id=e,node-name=f,name=exp0,"
                    "iothread=io0"], timeout=30)
check(t, r.returncode == 0, "--daemonize exit %d" % r.returncode)
check(t, os.path.exists(nbd2) and os.path.exists(pidfile),
      "--daemonize returned before listening")
out = subprocess.run([qemu_io, "-r", "-f", "raw", "-c", "read -P 0x77 2M 1M",
                      "nbd+unix:///exp0?socket=" + nbd2],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
check(t, out.returncode == 0 and b"failed" not in out.stdout,
      "daemonized read: %s" % out.stdout.decode())
with open(pidfile) as f:
    dpid = int(f.read())
os.kill(dpid, signal.SIGTERM)
check(t, nbdclient.wait_for(lambda: not os.path.exists(pidfile), 20),
      "daemonized: pid file not removed after SIGTERM")
t.ok("--daemonize: parent exits once the export listens; SIGTERM cleans up")

t.done()
