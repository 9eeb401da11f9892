# SPDX-License-Identifier: GPL-2.0-or-later
"""A tiny raw NBD client for tests: speaks the protocol byte by byte so
that tests can send well-formed requests and also every kind of
malformed one. Only the standard library is used."""

import bisect
import socket
import struct
import time

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
EXT_REQUEST_MAGIC = 0x21E41C71
SIMPLE_REPLY_MAGIC = 0x67446698
STRUCTURED_REPLY_MAGIC = 0x668E33EF
EXT_REPLY_MAGIC = 0x6E8A278C

OPT_EXPORT_NAME = 1
OPT_ABORT = 2
OPT_LIST = 3
OPT_STARTTLS = 5
OPT_INFO = 6
OPT_GO = 7
OPT_STRUCTURED_REPLY = 8
OPT_LIST_META_CONTEXT = 9
OPT_SET_META_CONTEXT = 10
OPT_EXTENDED_HEADERS = 11

REP_ACK = 1
REP_SERVER = 2
REP_INFO = 3
REP_META_CONTEXT = 4
REP_ERR = 1 << 31
REP_ERR_UNSUP = REP_ERR | 1
REP_ERR_POLICY = REP_ERR | 2
REP_ERR_INVALID = REP_ERR | 3
REP_ERR_TLS_REQD = REP_ERR | 5
REP_ERR_UNKNOWN = REP_ERR | 6
REP_ERR_TOO_BIG = REP_ERR | 9
REP_ERR_EXT_HEADER_REQD = REP_ERR | 10

INFO_EXPORT = 0
INFO_BLOCK_SIZE = 3

CMD_READ = 0
CMD_WRITE = 1
CMD_DISC = 2
CMD_FLUSH = 3
CMD_TRIM = 4
CMD_CACHE = 5
CMD_WRITE_ZEROES = 6
CMD_BLOCK_STATUS = 7

FLAG_FUA = 1
FLAG_NO_HOLE = 2
FLAG_DF = 4
FLAG_REQ_ONE = 8
FLAG_FAST_ZERO = 16
FLAG_PAYLOAD_LEN = 32

TFLAG_READ_ONLY = 1 << 1

TYPE_NONE = 0
TYPE_OFFSET_DATA = 1
TYPE_OFFSET_HOLE = 2
TYPE_BLOCK_STATUS = 5
TYPE_BLOCK_STATUS_EXT = 6
TYPE_ERROR = (1 << 15) | 1

EPERM = 1
EIO = 5
EINVAL = 22
ENOSPC = 28
ENOTSUP = 95


class ProtocolError(Exception):
    pass


# What a read buffer holds before the reply fills it: not zeroes, so that
# a range the server never sent cannot pass for a hole or for zero data.
POISON = b"\xa5\x5a\xc3\x3c\x0f\xf0\x96\x69"


def poisoned(length):
    return bytearray((POISON * (length // len(POISON) + 1))[:length])


class ReadCoverage:
    """The ranges of one read request that data and hole chunks filled.
    add() refuses a chunk outside the request or overlapping an earlier
    one; check_complete() refuses a reply whose chunks do not cover the
    whole request."""

    def __init__(self, offset, length):
        self.offset = offset
        self.length = length
        self.starts = []        # sorted, relative to offset
        self.ends = []

    def add(self, offset, n):
        start = offset - self.offset
        end = start + n
        if n == 0:
            raise ProtocolError("empty chunk at %d" % offset)
        if start < 0 or end > self.length:
            raise ProtocolError("chunk [%d, +%d) outside the request "
                                "[%d, +%d)" % (offset, n, self.offset,
                                               self.length))
        i = bisect.bisect_left(self.starts, start)
        if (i > 0 and self.ends[i - 1] > start) or \
           (i < len(self.starts) and self.starts[i] < end):
            raise ProtocolError("chunk [%d, +%d) overlaps another chunk "
                                "of the same reply" % (offset, n))
        self.starts.insert(i, start)
        self.ends.insert(i, end)
        return start

    def check_complete(self):
        at = 0
        for start, end in zip(self.starts, self.ends):
            if start != at:
                break
            at = end
        if at != self.length:
            raise ProtocolError("reply to the read of [%d, +%d) left "
                                "[%d, ...) without data or hole chunk"
                                % (self.offset, self.length,
                                   self.offset + at))


def connect(addr, timeout=10):
    """addr: a UNIX socket path (str) or (host, port)."""
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(addr)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes"
                           % (len(buf), n))
        buf += chunk
    return buf


def is_closed(s, timeout=5):
    """True if the peer closes the connection (EOF or reset) in time."""
    s.settimeout(timeout)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


class Client:
    def __init__(self, addr, timeout=10):
        self.s = connect(addr, timeout)
        self.mode = "simple"
        self.size = None
        self.flags = None
        self.contexts = {}

    def close(self):
        self.s.close()

    # Handshake
    def greeting(self, cflags=3):
        magic, opt, hflags = struct.unpack(">QQH", recv_exact(self.s, 18))
        if magic != NBDMAGIC or opt != IHAVEOPT:
            raise ProtocolError("bad greeting")
        self.s.sendall(struct.pack(">I", cflags))
        return hflags

    def send_option(self, opt, data=b"", length=None):
        if length is None:
            length = len(data)
        self.s.sendall(struct.pack(">QII", IHAVEOPT, opt, length) + data)

    def read_reply(self):
        magic, opt, rtype, length = struct.unpack(">QIII",
                                                  recv_exact(self.s, 20))
        if magic != REPLY_MAGIC:
            raise ProtocolError("bad option reply magic %x" % magic)
        return opt, rtype, recv_exact(self.s, length)

    def option(self, opt, data=b""):
        """Sends an option, returns the list of (type, data) replies up to
        and including the final one."""
        self.send_option(opt, data)
        replies = []
        while True:
            ropt, rtype, rdata = self.read_reply()
            if ropt != opt:
                raise ProtocolError("reply for option %d, not %d"
                                    % (ropt, opt))
            replies.append((rtype, rdata))
            if rtype == REP_ACK or rtype & REP_ERR:
                return replies

    def structured(self):
        r = self.option(OPT_STRUCTURED_REPLY)
        if r[-1][0] == REP_ACK:
            self.mode = "structured"
        return r[-1][0]

    def extended(self):
        r = self.option(OPT_EXTENDED_HEADERS)
        if r[-1][0] == REP_ACK:
            self.mode = "extended"
        return r[-1][0]

    @staticmethod
    def meta_payload(name, queries):
        data = struct.pack(">I", len(name)) + name.encode()
        data += struct.pack(">I", len(queries))
        for q in queries:
            data += struct.pack(">I", len(q)) + q.encode()
        return data

    def set_meta(self, name, queries):
        r = self.option(OPT_SET_META_CONTEXT, self.meta_payload(name, queries))
        for rtype, data in r:
            if rtype == REP_META_CONTEXT:
                cid = struct.unpack(">I", data[:4])[0]
                self.contexts[cid] = data[4:].decode()
        return r

    @staticmethod
    def go_payload(name, infos=(INFO_BLOCK_SIZE,)):
        data = struct.pack(">I", len(name)) + name.encode()
        data += struct.pack(">H", len(infos))
        for i in infos:
            data += struct.pack(">H", i)
        return data

    def go(self, name="", opt=OPT_GO):
        r = self.option(opt, self.go_payload(name))
        for rtype, data in r:
            if rtype == REP_INFO and struct.unpack(">H", data[:2])[0] == 0:
                self.size, self.flags = struct.unpack(">QH", data[2:12])
        return r[-1][0]

    def connect_export(self, name="", mode="structured", meta=()):
        self.greeting()
        if mode == "extended":
            if self.extended() != REP_ACK:
                raise ProtocolError("extended headers refused")
        elif mode == "structured":
            if self.structured() != REP_ACK:
                raise ProtocolError("structured replies refused")
        if meta:
            self.set_meta(name, list(meta))
        if self.go(name) != REP_ACK:
            raise ProtocolError("export %r refused" % name)
        return self

    # Transmission
    def send_request(self, cmd, offset=0, length=0, flags=0, cookie=1,
                     payload=b""):
        if self.mode == "extended":
            hdr = struct.pack(">IHHQQQ", EXT_REQUEST_MAGIC, flags, cmd,
                              cookie, offset, length)
        else:
            hdr = struct.pack(">IHHQQI", REQUEST_MAGIC, flags, cmd, cookie,
                              offset, length)
        self.s.sendall(hdr + payload)

    def read_simple_or_chunk(self):
        """Returns ('simple', cookie, error) or
        ('chunk', cookie, flags, type, offset_field, payload)."""
        magic = struct.unpack(">I", recv_exact(self.s, 4))[0]
        if magic == SIMPLE_REPLY_MAGIC:
            err, cookie = struct.unpack(">IQ", recv_exact(self.s, 12))
            return ("simple", cookie, err)
        if magic == STRUCTURED_REPLY_MAGIC:
            flags, rtype, cookie, length = struct.unpack(
                ">HHQI", recv_exact(self.s, 16))
            return ("chunk", cookie, flags, rtype, None,
                    recv_exact(self.s, length))
        if magic == EXT_REPLY_MAGIC:
            flags, rtype, cookie, off, length = struct.unpack(
                ">HHQQQ", recv_exact(self.s, 28))
            return ("chunk", cookie, flags, rtype, off,
                    recv_exact(self.s, length))
        raise ProtocolError("bad reply magic %x" % magic)

    def reply(self, length=0, cookie=None):
        """Reads one whole reply. Returns (error, data, chunks) where data
        is the reassembled read data (length bytes) and chunks the list of
        (type, payload). The buffer starts out poisoned, not zeroed: a
        successful structured or extended reply must cover the requested
        range exactly with data and hole chunks (none outside it, no two
        overlapping), else ProtocolError; so must a simple one, by sending
        all length bytes."""
        data = poisoned(length)
        cover = ReadCoverage(getattr(self, "req_offset", 0), length)
        chunks = []
        error = 0
        while True:
            r = self.read_simple_or_chunk()
            if cookie is not None and r[1] != cookie:
                raise ProtocolError("reply for cookie %d, not %d"
                                    % (r[1], cookie))
            if r[0] == "simple":
                error = r[2]
                if error == 0 and length:
                    data[:] = recv_exact(self.s, length)
                return error, bytes(data), chunks
            _, _, flags, rtype, _, payload = r
            chunks.append((rtype, payload))
            if rtype & (1 << 15):
                error = struct.unpack(">I", payload[:4])[0]
            elif rtype == TYPE_OFFSET_DATA:
                off = struct.unpack(">Q", payload[:8])[0]
                at = cover.add(off, len(payload) - 8)
                data[at:at + len(payload) - 8] = payload[8:]
            elif rtype == TYPE_OFFSET_HOLE:
                off, n = struct.unpack(">QI", payload[:12])
                at = cover.add(off, n)
                data[at:at + n] = bytes(n)
            if flags & 1:
                if error == 0:
                    cover.check_complete()
                return error, bytes(data), chunks

    def read(self, offset, length, flags=0, cookie=7):
        self.req_offset = offset
        self.send_request(CMD_READ, offset, length, flags, cookie)
        return self.reply(length, cookie)

    def write(self, offset, data, flags=0, cookie=8):
        self.req_offset = offset
        self.send_request(CMD_WRITE, offset, len(data), flags, cookie, data)
        return self.reply(0, cookie)[0]

    def command(self, cmd, offset=0, length=0, flags=0, cookie=9):
        self.req_offset = offset
        self.send_request(cmd, offset, length, flags, cookie)
        return self.reply(0, cookie)

    def disconnect(self):
        self.send_request(CMD_DISC)
        self.s.close()


def wait_for(pred, timeout=10, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()
