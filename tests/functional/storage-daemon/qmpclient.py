# SPDX-License-Identifier: GPL-2.0-or-later
"""A small QMP client for the tests: connect, negotiate, run commands,
collect events. Replies are matched to requests by their order."""
import json
import os
import socket
import subprocess
import time


def connect_unix(path, timeout=30):
    """Connects, retrying while the listen backlog is full."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            return sock
        except BlockingIOError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class QMPClient:
    def __init__(self, path, timeout=30):
        self.sock = connect_unix(path, timeout)
        self.buf = b''
        self.events = []
        self.greeting = self.recv_msg()

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def recv_msg(self):
        """The next message (reply, event or greeting), or None at EOF."""
        dec = json.JSONDecoder()
        while True:
            text = self.buf.decode(errors='replace').lstrip()
            if text:
                try:
                    obj, end = dec.raw_decode(text)
                    self.buf = text[end:].encode()
                    return obj
                except ValueError:
                    pass
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk

    def recv_reply(self):
        """The next reply; events met on the way are kept."""
        while True:
            msg = self.recv_msg()
            if msg is None or 'event' not in msg:
                return msg
            self.events.append(msg)

    def cmd_raw(self, name, args=None, **extra):
        req = {'execute': name}
        if args is not None:
            req['arguments'] = args
        req.update(extra)
        self.send_raw(json.dumps(req) + '\n')
        return self.recv_reply()

    def cmd(self, name, args=None):
        """Runs a command that must succeed; returns its "return"."""
        r = self.cmd_raw(name, args)
        if r is None or 'return' not in r:
            raise RuntimeError(f'{name} {args}: {r}')
        return r['return']

    def negotiate(self):
        return self.cmd('qmp_capabilities')

    def wait_event(self, name, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev['event'] == name:
                    return self.events.pop(i)
            if time.monotonic() > deadline:
                raise TimeoutError(name)
            msg = self.recv_msg()
            if msg is None:
                raise EOFError(name)
            if 'event' in msg:
                self.events.append(msg)


def start_daemon(binary, args, sock_path, timeout=20, env=None):
    """Starts a storage daemon whose first monitor listens on sock_path;
    returns the Popen once the socket exists."""
    proc = subprocess.Popen([binary] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + timeout
    while not os.path.exists(sock_path):
        if proc.poll() is not None:
            raise RuntimeError(f'{binary} exited {proc.returncode}: '
                               f'{proc.stderr.read().decode()}')
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError(f'{binary}: no {sock_path}')
        time.sleep(0.02)
    return proc
