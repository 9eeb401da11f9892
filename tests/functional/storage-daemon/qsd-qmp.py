#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""qemu-storage-daemon's QMP monitor: negotiation, every command and its
errors, hostile input (malformed JSON, non-objects, deep nesting, a client
that never reads), two monitors at once, and the same sequence sent to
Debian's qemu-storage-daemon with the replies compared structurally."""

import os
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import nbdtest                      # noqa: E402
from nbdtest import check           # noqa: E402
from qmpclient import QMPClient, connect_unix  # noqa: E402

DEBIAN_QSD = "/usr/bin/qemu-storage-daemon"

t = nbdtest.Test()
qsd = t.qemu_nbd


def daemon_args(tag, monitors=1):
    args = []
    for i in range(monitors):
        args += ["--chardev", "socket,id=m%d,path=%s,server=on,wait=off"
                 % (i, t.path("%s-qmp%d.sock" % (tag, i))),
                 "--monitor", "chardev=m%d" % i]
    args += ["--blockdev",
             "driver=null-co,node-name=null0,size=67108864,read-zeroes=on",
             "--nbd-server",
             "addr.type=unix,addr.path=" + t.path(tag + "-nbd.sock")]
    return args


def err_class(reply):
    check(t, reply is not None and "error" in reply,
          "expected an error, got %r" % (reply,))
    return reply["error"]["class"]


def expect_error(c, cls, name, args=None, desc=None):
    r = c.cmd_raw(name, args)
    check(t, err_class(r) == cls, "%s %r: class %r, want %s"
          % (name, args, r, cls))
    if desc:
        check(t, desc in r["error"]["desc"],
              "%s: desc %r lacks %r" % (name, r["error"]["desc"], desc))
    return r


# --- our daemon: commands and errors ------------------------------------
img = t.image("disk.img", 4 << 20, [(0, b"\xa5" * 4096)])
p = t.start(daemon_args("ours", 2) + ["--pidfile", t.path("pid")],
            sock=t.path("ours-qmp1.sock"))
c = QMPClient(t.path("ours-qmp0.sock"))
check(t, set(c.greeting["QMP"]) == {"version", "capabilities"},
      "greeting %r" % c.greeting)
check(t, isinstance(c.greeting["QMP"]["version"]["qemu"]["major"], int),
      "greeting version")
t.ok("greeting")

expect_error(c, "CommandNotFound", "query-version",
             desc="Expecting capabilities negotiation")
r = c.cmd_raw("qmp_capabilities", id={"a": [1, "x"]})
check(t, r == {"return": {}, "id": {"a": [1, "x"]}}, "negotiate: %r" % r)
expect_error(c, "CommandNotFound", "qmp_capabilities")
t.ok("commands refused before qmp_capabilities; id echoed")

v = c.cmd("query-version")
check(t, set(v) == {"qemu", "package"} and
      set(v["qemu"]) == {"major", "minor", "micro"}, "query-version %r" % v)
names = {x["name"] for x in c.cmd("query-commands")}
for n in ("query-version", "query-commands", "blockdev-add", "blockdev-del",
          "query-named-block-nodes", "block-export-add", "block-export-del",
          "query-block-exports", "nbd-server-start", "nbd-server-stop",
          "object-add", "object-del", "query-iothreads", "quit",
          "qmp_capabilities"):
    check(t, n in names, "query-commands lacks " + n)
t.ok("query-version, query-commands")

# blockdev-add / query-named-block-nodes / blockdev-del
c.cmd("blockdev-add", {"driver": "raw", "node-name": "disk0",
                       "file": {"driver": "file", "filename": img}})
expect_error(c, "GenericError", "blockdev-add",
             {"driver": "raw", "node-name": "disk0",
              "file": {"driver": "file", "filename": img}})
expect_error(c, "GenericError", "blockdev-add", {"node-name": "x"},
             desc="'driver'")
expect_error(c, "GenericError", "blockdev-add",
             {"driver": "file", "node-name": "x",
              "filename": t.path("missing")})
expect_error(c, "GenericError", "blockdev-add",
             {"driver": "no-such-driver", "node-name": "y"})
nodes = {n["node-name"]: n for n in c.cmd("query-named-block-nodes")}
check(t, "disk0" in nodes and nodes["disk0"]["drv"] == "raw" and
      "null0" in nodes and nodes["null0"]["ro"] is False,
      "query-named-block-nodes %r" % nodes)
t.ok("blockdev-add and its errors; query-named-block-nodes")

# exports
expect_error(c, "GenericError", "block-export-add",
             {"id": "e0", "node-name": "disk0"}, desc="Parameter 'type'")
expect_error(c, "GenericError", "block-export-add",
             {"type": "nbd", "id": 5, "node-name": "disk0"},
             desc="Invalid parameter type for 'id', expected: string")
expect_error(c, "GenericError", "block-export-add",
             {"type": "nbd", "id": "e0", "node-name": "nope"})
expect_error(c, "GenericError", "block-export-add",
             {"type": "nbd", "id": "e0", "node-name": "disk0",
              "bogus": 1}, desc="'bogus'")
c.cmd("block-export-add", {"type": "nbd", "id": "e0",
                           "node-name": "disk0", "writable": True})
expect_error(c, "GenericError", "block-export-add",
             {"type": "nbd", "id": "e0", "node-name": "null0"})
ex = c.cmd("query-block-exports")
check(t, ex == [{"type": "nbd", "id": "e0", "node-name": "disk0",
                 "shutting-down": False}], "query-block-exports %r" % ex)
expect_error(c, "GenericError", "blockdev-del", {"node-name": "disk0"})
expect_error(c, "GenericError", "block-export-del", {"id": "nope"},
             desc="Export 'nope' is not found")
expect_error(c, "GenericError", "block-export-del",
             {"id": "e0", "mode": "sideways"})
c.cmd("block-export-del", {"id": "e0"})
ev = c.wait_event("BLOCK_EXPORT_DELETED")
check(t, ev["data"] == {"id": "e0"} and
      set(ev["timestamp"]) == {"seconds", "microseconds"},
      "event %r" % ev)
check(t, c.cmd("query-block-exports") == [], "export still listed")
c.cmd("blockdev-del", {"node-name": "disk0"})
expect_error(c, "GenericError", "blockdev-del", {"node-name": "disk0"})
t.ok("block-export-add/del, query-block-exports, blockdev-del and errors")

# NBD server
expect_error(c, "GenericError", "nbd-server-start",
             {"addr": {"type": "unix",
                       "data": {"path": t.path("x.sock")}}},
             desc="already running")
c.cmd("nbd-server-stop")
expect_error(c, "GenericError", "nbd-server-stop")
expect_error(c, "GenericError", "nbd-server-start",
             {"addr": {"type": "unix", "path": t.path("x.sock")}})
expect_error(c, "GenericError", "nbd-server-start", {"addr": "unix"})
c.cmd("nbd-server-start", {"addr": {"type": "unix",
                                    "data": {"path": t.path("nbd2.sock")}},
                           "max-connections": 4})
check(t, os.path.exists(t.path("nbd2.sock")), "nbd-server-start socket")
# nbd-server-stop removes the NBD exports, each with its event.
c.cmd("block-export-add", {"type": "nbd", "id": "e5", "node-name": "null0"})
c.cmd("nbd-server-stop")
check(t, c.wait_event("BLOCK_EXPORT_DELETED")["data"] == {"id": "e5"},
      "nbd-server-stop: no event")
check(t, c.cmd("query-block-exports") == [], "export left after stop")
c.cmd("nbd-server-start", {"addr": {"type": "unix",
                                    "data": {"path": t.path("nbd3.sock")}}})
t.ok("nbd-server-start (legacy address), nbd-server-stop and errors")

# objects
c.cmd("object-add", {"qom-type": "iothread", "id": "io0"})
expect_error(c, "GenericError", "object-add",
             {"qom-type": "iothread", "id": "io0"})
expect_error(c, "GenericError", "object-add", {"id": "io1"},
             desc="'qom-type'")
expect_error(c, "GenericError", "object-add",
             {"qom-type": "no-such-type", "id": "x1"})
its = c.cmd("query-iothreads")
check(t, len(its) == 1 and its[0]["id"] == "io0" and
      isinstance(its[0]["thread-id"], int), "query-iothreads %r" % its)
c.cmd("object-del", {"id": "io0"})
expect_error(c, "GenericError", "object-del", {"id": "io0"})
check(t, c.cmd("query-iothreads") == [], "iothread still listed")
t.ok("object-add/del, query-iothreads and errors")

# --- hostile input --------------------------------------------------------
expect_error(c, "CommandNotFound", "no-such-command",
             desc="The command no-such-command has not been found")
c.send_raw('{"execute": "query-version" ]]\n')
check(t, err_class(c.recv_reply()) == "GenericError", "parse error 1")
check(t, err_class(c.recv_reply()) == "GenericError", "parse error 2")
check(t, "return" in c.cmd_raw("query-version"), "resync after error")
for bad in ('[1, 2, 3]', '"a string"', '42', '{"execute": 1}',
            '{"execute": "query-version", "arguments": []}',
            '{"arguments": {}}', '{"execute": "query-version", "x": 1}',
            '{"execute": "query-version", "arguments": {"bogus": true}}'):
    c.send_raw(bad + "\n")
    r = c.recv_reply()
    check(t, err_class(r) == "GenericError", "%s -> %r" % (bad, r))
check(t, "return" in c.cmd_raw("query-version"), "after bad input")
t.ok("malformed JSON, non-objects, bad members, unknown arguments")

# Input that json-glib takes badly, each followed by a command that must
# be answered: an over-long text (refused, resynchronised at the next
# newline), a number that is infinite once parsed, a lone surrogate,
# bytes that are not UTF-8, a trailing comma.
for bad in ['{"execute": "query-version", "id": "' + "x" * (5 << 20) + '"}',
            '{"execute": "query-version", "id": 1e999}',
            '{"execute": "query-version", "id": "\\ud800"}',
            '\x00\x01\xff', '{"execute": "query-version",}']:
    c.send_raw(bad + "\n")
    c.send_raw('{"execute": "query-version", "id": "after"}\n')
    errors = 0
    while True:
        r = c.recv_reply()
        check(t, r is not None, "connection closed after %r" % bad[:40])
        if r.get("id") == "after":
            break
        check(t, err_class(r) == "GenericError", "%r: %r" % (bad[:40], r))
        errors += 1
    check(t, "return" in r and errors >= 1 or "1e999" not in bad,
          "%r: %d errors, %r" % (bad[:40], errors, r))
t.ok("over-long text, infinite number, lone surrogate, bad UTF-8, "
     "trailing comma: error replies, then served")

# A monitor serves one client at a time; the next one gets the greeting
# when the first leaves.
waiting = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
waiting.connect(t.path("ours-qmp0.sock"))
waiting.settimeout(0.5)
try:
    early = waiting.recv(100)
except socket.timeout:
    early = None
check(t, early is None, "second client of a busy monitor greeted: %r"
      % early)

c.send_raw("[" * 200000)
c.send_raw("]" * 200000 + "\n")
c.sock.settimeout(60)
n = 0
while True:
    r = c.cmd_raw("query-version", id="after-deep")
    if r is None:
        t.fail("connection closed by deep nesting")
    while r.get("id") != "after-deep":
        check(t, err_class(r) == "GenericError", "deep: %r" % r)
        n += 1
        r = c.recv_reply()
    break
check(t, n >= 1, "no nesting error")
check(t, "return" in r, "deep nesting: %r" % r)
t.ok("200000 nested brackets: %d errors, then served" % n)

# The second monitor works while the first one is flooded by a client
# that never reads its replies.
c2 = QMPClient(t.path("ours-qmp1.sock"))
c2.negotiate()
flood = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.close()
waiting.settimeout(10)
check(t, waiting.recv(6) == b'{"QMP"',
      "the waiting client is not greeted once the first one left")
waiting.close()
time.sleep(0.1)
flood.connect(t.path("ours-qmp0.sock"))
flood.setblocking(False)
req = (b'{"execute": "qmp_capabilities"}' +
       b'{"execute": "query-commands"}' * 200)
sent = 0
deadline = time.monotonic() + 20
closed = False
while time.monotonic() < deadline:
    try:
        sent += flood.send(req)
    except BlockingIOError:
        check(t, "return" in c2.cmd_raw("query-version"),
              "second monitor while the first is flooded")
        time.sleep(0.05)
    except (BrokenPipeError, ConnectionResetError):
        closed = True
        break
    if sent > (64 << 20):
        break
flood.close()
check(t, closed, "a client that never reads was not disconnected")
check(t, "return" in c2.cmd_raw("query-version"), "after the flood")
c3 = QMPClient(t.path("ours-qmp0.sock"))
c3.negotiate()
check(t, "return" in c3.cmd_raw("query-version"), "first monitor again")
t.ok("a client that never reads: disconnected after %d bytes sent; the "
     "other monitor served meanwhile" % sent)

c3.close()


# Events for a negotiated client that never reads: once more than 1 MiB
# is queued it is disconnected, while monitor 1 makes the events.
idle = QMPClient(t.path("ours-qmp0.sock"))
idle.negotiate()
batch = "".join(
    '{"execute": "block-export-add", "arguments": {"type": "nbd", '
    '"id": "ev%d", "node-name": "null0"}}'
    '{"execute": "block-export-del", "arguments": {"id": "ev%d"}}'
    % (i, i) for i in range(200))
idle_closed = False
for rnd in range(100):
    c2.send_raw(batch)
    for _ in range(400):
        r = c2.recv_reply()
        check(t, r is not None and "return" in r, "export churn: %r" % r)
    c2.events.clear()
    try:
        idle.sock.setblocking(False)
        idle.sock.send(b" ")
        idle_closed = idle.sock.recv(1, socket.MSG_PEEK) == b""
    except (BlockingIOError, ):
        pass
    except (BrokenPipeError, ConnectionResetError):
        idle_closed = True
    if idle_closed:
        break
check(t, idle_closed, "an idle client with events unread was not cut off")
idle.close()
t.ok("a negotiated client leaving events unread is disconnected after "
     "%d events" % ((rnd + 1) * 200))

# Monitor clients that end badly: half a command then close, reset
# during a command, close before the greeting is read. The monitor then
# serves the next client.
for i in range(30):
    s = connect_unix(t.path("ours-qmp0.sock"))
    if i % 3 == 0:
        s.sendall(b'{"execute": "qmp_capabilities"}{"execute": "query-')
    elif i % 3 == 1:
        s.sendall(b'{"execute": "qmp_capabilities"}'
                  b'{"execute": "query-named-block-nodes"}' * 50)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
    s.close()
# Up to QMP_MAX_WAITING (16) connections wait for a busy monitor; more
# are closed at once: retry until this one is kept and greeted.
for _ in range(200):
    c4 = QMPClient(t.path("ours-qmp0.sock"))
    if c4.greeting is not None:
        break
    c4.close()
    time.sleep(0.05)
check(t, c4.greeting is not None, "never greeted after bad endings")
c4.negotiate()
check(t, "return" in c4.cmd_raw("query-version"), "after bad endings")
t.ok("30 monitor clients ending badly; the monitor serves the next one")

check(t, os.path.exists(t.path("pid")), "pid file")
check(t, c4.cmd("quit") == {}, "quit")
p.wait(20)
check(t, p.returncode == 0, "exit status %r after quit" % p.returncode)
t.check_clean(p)
check(t, not os.path.exists(t.path("pid")), "pid file left behind")
t.ok("quit: exit 0, pid file removed")


# --- structural comparison with Debian's daemon ---------------------------
SEQUENCE = [
    ("query-version", None),
    ("qmp_capabilities", None),
    ("qmp_capabilities", None),
    ("query-version", None),
    ("no-such-command", None),
    ("blockdev-add", {"driver": "null-co", "node-name": "n1",
                      "size": 1048576}),
    ("blockdev-add", {"driver": "null-co", "node-name": "n1",
                      "size": 1048576}),
    ("query-named-block-nodes", None),
    ("block-export-add", {"id": "e1", "node-name": "n1"}),
    ("block-export-add", {"type": "nbd", "id": 7, "node-name": "n1"}),
    ("block-export-add", {"type": "nbd", "id": "e1", "node-name": "n1",
                          "writable": True}),
    ("query-block-exports", None),
    ("block-export-del", {"id": "nope"}),
    ("nbd-server-start", {"addr": {"type": "unix",
                                   "data": {"path": "/nonexistent/x"}}}),
    ("object-add", {"qom-type": "iothread", "id": "io9"}),
    ("object-add", {"qom-type": "iothread", "id": "io9"}),
    ("object-del", {"id": "io9"}),
    ("object-del", {"id": "io9"}),
    ("blockdev-del", {"node-name": "nope"}),
    ("block-export-del", {"id": "e1"}),
    "EVENT",
    ("query-block-exports", None),
    ("blockdev-del", {"node-name": "n1"}),
    ("nbd-server-stop", None),
    ("nbd-server-stop", None),
    "RAW [1, 2, 3]",
    "RAW {\"execute\": \"query-version\" ]]",
]


def shape(v):
    """Keys and types, recursively (lists: the shape of their first item)."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    return type(v).__name__


def run_sequence(binary, tag):
    p = t.start(daemon_args(tag), sock=t.path(tag + "-qmp0.sock")) \
        if binary == qsd else None
    if p is None:
        import subprocess
        p = subprocess.Popen([binary] + daemon_args(tag),
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        t.servers.append(p)
        import nbdclient
        nbdclient.wait_for(
            lambda: os.path.exists(t.path(tag + "-qmp0.sock")), 10)
    c = QMPClient(t.path(tag + "-qmp0.sock"))
    out = [("greeting", shape(c.greeting))]
    for item in SEQUENCE:
        if item == "EVENT":
            ev = c.wait_event("BLOCK_EXPORT_DELETED")
            out.append(("event", ev["event"], shape(ev)))
            continue
        if isinstance(item, str):
            c.send_raw(item[4:] + "\n")
            r = c.recv_reply()
            out.append((item, r.get("error", {}).get("class")))
            if "]]" in item:
                r = c.recv_reply()
                out.append((item, r.get("error", {}).get("class")))
            continue
        name, args = item
        r = c.cmd_raw(name, args, id=name)
        if "error" in r:
            out.append((name, "error", r["error"]["class"],
                        sorted(r["error"]), r.get("id")))
        else:
            out.append((name, "return", r.get("id"), r["return"]))
    c.cmd_raw("quit")
    c.close()
    p.wait(20)
    return out, p


def structurally_equal(a, b):
    """b (ours) has the keys of a (Debian's) where a has any, same types;
    version numbers, names and ids differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return all(k in a and structurally_equal(a[k], b[k]) for k in b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if not a or not b:
            return len(a) == len(b)
        return all(structurally_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b)


if not os.access(DEBIAN_QSD, os.X_OK):
    t.skip_part("Debian's qemu-storage-daemon is not installed")
else:
    theirs, _ = run_sequence(DEBIAN_QSD, "deb")
    ours, p2 = run_sequence(qsd, "cmp")
    check(t, p2.returncode == 0, "our daemon exit %r" % p2.returncode)
    t.check_clean(p2)
    check(t, len(theirs) == len(ours), "lengths %d/%d" %
          (len(theirs), len(ours)))
    for d, o in zip(theirs, ours):
        if d[0] == "query-version" and d[1] == "return":
            ok = set(d[3]) == set(o[3])
        elif d[0] == "query-named-block-nodes":
            ok = d[1] == o[1] and all(
                structurally_equal(shape(d[3][0]), shape(x))
                for x in o[3] if x["node-name"] == "n1")
        elif len(d) >= 2 and d[1] == "return":
            ok = d[:3] == o[:3] and \
                structurally_equal(shape(d[3]), shape(o[3]))
        else:
            ok = d[:3] == o[:3] if d[0] != "greeting" else \
                structurally_equal(d[1], o[1])
        check(t, ok, "differs from Debian's:\n  Debian: %r\n  ours:   %r"
              % (d, o))
    t.ok("%d replies structurally equal to Debian's qemu-storage-daemon"
         % len(ours))

t.done()
