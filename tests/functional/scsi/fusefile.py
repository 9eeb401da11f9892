# SPDX-License-Identifier: GPL-2.0-or-later
"""A one-file FUSE filesystem whose ioctls answer only when the test says
so: a real file descriptor on which SG_IO blocks for as long as a test
needs (the kernel forwards the ioctl of a FUSE file to the filesystem's
server and waits for its answer). Speaks the kernel's FUSE protocol on
/dev/fuse directly; needs root (mount(2)).

    with HeldIoctlFS(mountpoint) as fs:
        fd = os.open(fs.path, os.O_RDWR)
        ... something calls ioctl(fd, ...) ...
        req = fs.wait_ioctl()           # an ioctl is now in flight
        fs.answer(req, result=0)        # or error=-errno
"""
import ctypes
import errno
import os
import queue
import stat
import struct
import threading

FUSE_LOOKUP = 1
FUSE_FORGET = 2
FUSE_GETATTR = 3
FUSE_OPEN = 14
FUSE_RELEASE = 18
FUSE_INIT = 26
FUSE_INTERRUPT = 36
FUSE_DESTROY = 38
FUSE_IOCTL = 39
FUSE_BATCH_FORGET = 42
NO_REPLY = (FUSE_FORGET, FUSE_INTERRUPT, FUSE_BATCH_FORGET)

IN_HEADER = struct.Struct("<IIQQIIIHH")          # fuse_in_header, 40 bytes
OUT_HEADER = struct.Struct("<IiQ")               # fuse_out_header, 16
IOCTL_IN = struct.Struct("<QIIQII")              # fuse_ioctl_in, 32
ROOT_ID = 1
FILE_ID = 2
FILE_NAME = b"dev"


def attr(nodeid):
    """fuse_attr, 88 bytes."""
    if nodeid == ROOT_ID:
        mode, nlink = stat.S_IFDIR | 0o755, 2
    else:
        mode, nlink = stat.S_IFREG | 0o666, 1
    return struct.pack("<6Q10I", nodeid, 0, 0, 0, 0, 0, 0, 0, 0, mode,
                       nlink, 0, 0, 0, 4096, 0)


class IoctlRequest:
    def __init__(self, unique, cmd):
        self.unique = unique
        self.cmd = cmd


class HeldIoctlFS:
    def __init__(self, mountpoint):
        self.mountpoint = mountpoint
        self.path = os.path.join(mountpoint, FILE_NAME.decode())
        self.ioctls = queue.Queue()
        self.interrupts = 0
        self.fd = -1
        self.thread = None
        self.lock = threading.Lock()     # serializes writes to self.fd

    def __enter__(self):
        self.fd = os.open("/dev/fuse", os.O_RDWR)
        libc = ctypes.CDLL(None, use_errno=True)
        opts = (f"fd={self.fd},rootmode=40000,user_id=0,group_id=0,"
                "allow_other").encode()
        if libc.mount(b"pr-helper-test", self.mountpoint.encode(), b"fuse",
                      2 | 4, opts) < 0:      # MS_NOSUID | MS_NODEV
            e = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(e, f"mount fuse on {self.mountpoint}: "
                          f"{os.strerror(e)}")
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.umount2(self.mountpoint.encode(), 2)      # MNT_DETACH
        # Closing the device aborts whatever is still waiting on us.
        os.close(self.fd)
        self.thread.join(timeout=10)

    def _reply(self, unique, error=0, body=b""):
        msg = OUT_HEADER.pack(OUT_HEADER.size + len(body), error,
                              unique) + body
        with self.lock:
            try:
                os.write(self.fd, msg)
            except OSError as e:
                # The waiter was interrupted and gave up (ENOENT), or the
                # filesystem is gone.
                if e.errno not in (errno.ENOENT, errno.ENODEV, errno.EBADF):
                    raise

    def _serve(self):
        while True:
            try:
                buf = os.read(self.fd, 1 << 20 | 1 << 16)
            except OSError:
                return
            if len(buf) < IN_HEADER.size:
                return
            (_, opcode, unique, nodeid, _, _, _, _,
             _) = IN_HEADER.unpack_from(buf)
            arg = buf[IN_HEADER.size:]
            if opcode in NO_REPLY:
                if opcode == FUSE_INTERRUPT:
                    self.interrupts += 1
                continue
            if opcode == FUSE_INIT:
                # 7.31 is enough; nothing optional is wanted.
                body = struct.pack("<IIIIHHIIHHI", 7, 31, 0, 0, 1, 1,
                                   65536, 1, 1, 0, 0)
                self._reply(unique, 0, body.ljust(64, b"\0"))
            elif opcode == FUSE_LOOKUP:
                name = arg.split(b"\0", 1)[0]
                if nodeid == ROOT_ID and name == FILE_NAME:
                    self._reply(unique, 0, struct.pack(
                        "<4Q2I", FILE_ID, 1, 0, 0, 0, 0) + attr(FILE_ID))
                else:
                    self._reply(unique, -errno.ENOENT)
            elif opcode == FUSE_GETATTR:
                self._reply(unique, 0, struct.pack("<QII", 0, 0, 0) +
                            attr(nodeid))
            elif opcode == FUSE_OPEN:
                # FOPEN_DIRECT_IO: no page cache in the way.
                self._reply(unique, 0, struct.pack("<QIi", 0, 1, 0))
            elif opcode == FUSE_RELEASE:
                self._reply(unique, 0)
            elif opcode == FUSE_IOCTL:
                _, _, cmd, _, _, _ = IOCTL_IN.unpack_from(arg)
                self.ioctls.put(IoctlRequest(unique, cmd))
            elif opcode == FUSE_DESTROY:
                self._reply(unique, 0)
                return
            else:
                self._reply(unique, -errno.ENOSYS)

    def wait_ioctl(self, timeout=10):
        """The next ioctl that reached us, or None after @timeout."""
        try:
            return self.ioctls.get(timeout=timeout)
        except queue.Empty:
            return None

    def answer(self, req, result=0, error=0):
        """Lets the ioctl of @req return @result, or fail with @error
        (a negative errno)."""
        if error:
            self._reply(req.unique, error)
        else:
            self._reply(req.unique, 0, struct.pack("<iIII", result, 0, 0,
                                                   0))
