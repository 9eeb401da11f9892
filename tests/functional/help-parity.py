#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Option and command parity with Debian's QEMU programs.

Every option that Debian's qemu-io, qemu-img (each command), qemu-nbd and
qemu-pr-helper print in --help, every qemu-io command of 'qemu-io -c help'
and every option of those commands, is asked of our program: given on a
command line that cannot act (two bogus options follow it), our program
must not call it unknown or unsupported. What is not there yet must be in
PENDING below, with the reason; the test fails on anything else, and on a
PENDING entry that our program now accepts (so that the list stays true).
Without Debian's programs the test is skipped.
"""
import os
import re
import subprocess
import sys
import tempfile

DEBIAN = '/usr/bin'
OURS = {
    'qemu-io': os.environ.get('QEMU_IO_OURS'),
    'qemu-img': os.environ.get('QEMU_IMG_OURS'),
    'qemu-nbd': os.environ.get('QEMU_NBD'),
    'qemu-pr-helper': os.environ.get('QEMU_PR_HELPER'),
}

# What waits for an open piece of work: "program [command] option" -> why.
PENDING = {
    # qemu-io
    'qemu-io -s': 'snapshot mode needs qcow2 overlays with backing files',
    'qemu-io -k': 'Linux native AIO (libaio) is not built; -i io_uring is',
    'qemu-io cmd abort': 'a crash simulator; not needed by any test yet',
    'qemu-io cmd break': 'blkdebug breakpoints: no blkdebug driver yet',
    'qemu-io cmd remove_break': 'blkdebug breakpoints: no blkdebug driver',
    'qemu-io cmd resume': 'blkdebug breakpoints: no blkdebug driver yet',
    'qemu-io cmd wait_break': 'blkdebug breakpoints: no blkdebug driver',
    'qemu-io cmd reopen': 'reopening with new options is not written yet',
    'qemu-io cmd sigraise': 'a signal raiser; not needed by any test yet',
    'qemu-io cmd sleep': 'a timer command; not needed by any test yet',
    'qemu-io open -s': 'snapshot mode needs qcow2 overlays',
    'qemu-io open -k': 'Linux native AIO is not built; use -i io_uring',
    'qemu-io read -b': 'vmstate reads: no VM state area in our formats',
    'qemu-io write -b': 'vmstate writes: no VM state area in our formats',
    'qemu-io write -c': 'compressed writes: qcow2 compression not written',
    # qemu-img commands that wait for qcow2 features
    'qemu-img cmd amend': 'qcow2 amend is not written yet',
    'qemu-img cmd bitmap': 'persistent dirty bitmaps are not written yet',
    'qemu-img cmd commit': 'needs backing chains (qcow2 backing files)',
    'qemu-img cmd snapshot': 'qcow2 internal snapshots are not written yet',
    'qemu-img cmd rebase': 'needs backing chains (qcow2 backing files)',
    'qemu-img convert --bitmaps': 'persistent dirty bitmaps',
    'qemu-img convert -c': 'qcow2 compression is not written yet',
    'qemu-img convert -B': 'needs qcow2 backing files in convert',
    'qemu-img convert -F': 'the backing format, only with -B (pending)',
    'qemu-img convert --salvage': 'reading past I/O errors: not written yet',
    'qemu-img convert -l': 'qcow2 internal snapshots',
    'qemu-img convert -r': 'rate limiting is not written yet',
    'qemu-img measure -o': 'measure is raw only: qcow2 sizes not computed',
    'qemu-img measure -l': 'qcow2 internal snapshots',
    # qemu-nbd
    'qemu-nbd -B': 'persistent dirty bitmaps are not written yet',
    'qemu-nbd -c': 'the kernel NBD client (/dev/nbdX) is not written yet',
    'qemu-nbd -d': 'the kernel NBD client (/dev/nbdX) is not written yet',
    'qemu-nbd -s': 'snapshot mode needs qcow2 overlays',
    'qemu-nbd -l': 'qcow2 internal snapshots',
    'qemu-nbd --selinux-label': 'not built with SELinux',
}

# Long forms of the options above: the same entry.
ALIASES = {
    'qemu-io --snapshot': 'qemu-io -s',
    'qemu-io --native-aio': 'qemu-io -k',
    'qemu-nbd --bitmap': 'qemu-nbd -B',
    'qemu-nbd --connect': 'qemu-nbd -c',
    'qemu-nbd --disconnect': 'qemu-nbd -d',
    'qemu-nbd --snapshot': 'qemu-nbd -s',
    'qemu-nbd --load-snapshot': 'qemu-nbd -l',
}

# Pending options that ours parses and refuses only later: the command
# line (after the program; IMG is a raw image) that shows the refusal.
CONFIRM = {
    'qemu-nbd -B': ['-B', 'b', 'IMG'],
    'qemu-nbd -c': ['-c', '/dev/null', 'IMG'],
    'qemu-nbd -d': ['-d', 'IMG'],
    'qemu-nbd -s': ['-s', 'IMG'],
    'qemu-nbd -l': ['-l', 'snap', 'IMG'],
    'qemu-nbd --selinux-label': ['--selinux-label=x', 'IMG'],
    'qemu-io read -b': ['-f', 'raw', '-c', 'read -b 0 512', 'IMG'],
    'qemu-io write -b': ['-f', 'raw', '-c', 'write -b 0 512', 'IMG'],
    'qemu-io write -c': ['-f', 'raw', '-c', 'write -c 0 512', 'IMG'],
}

# Our words for "I do not know or do not do this".
REFUSED = re.compile(r"unrecognized option|invalid option|not supported|"
                     r"not implemented|Command not found|not found|"
                     r"unknown option|not enabled")
OPT = re.compile(r"(?:^|[\s\[\(|,])(--?[A-Za-z][A-Za-z0-9-]*)")
BOGUS = ['--zz-no-such-option', '--zz-no-such-option']


def run(argv, cwd):
    try:
        p = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return None
    return p.stdout + p.stderr


def options_in(text):
    """The option names in help text: -x, --long (not -1, not words)."""
    found = []
    for m in OPT.finditer(text):
        tok = m.group(1)
        if tok.startswith('--'):
            found.append(tok)
        else:
            # "[-Ciqv]" lists flags together
            found.extend('-' + c for c in tok[1:])
    return found


def refused(out, opt):
    """True when our program said @opt is unknown or unsupported."""
    if out is None:
        return False
    for line in out.strip().splitlines()[:3]:
        if 'zz-no-such-option' in line:
            return False
        if REFUSED.search(line):
            return True
    return False


def main():
    missing = [p for p, path in OURS.items() if not path]
    if missing:
        print('1..0 # SKIP no path for ours: ' + ', '.join(missing))
        return 77
    if not all(os.access(os.path.join(DEBIAN, p), os.X_OK) for p in OURS):
        print("1..0 # SKIP Debian's programs are not all installed")
        return 77

    tmp = tempfile.mkdtemp(prefix='help-parity.')
    img = os.path.join(tmp, 'p.img')
    with open(img, 'wb') as f:
        f.truncate(1 << 20)

    checked = []           # (key, refused?)

    def probe(key, argv):
        key = ALIASES.get(key, key)
        out = run(argv, tmp)
        no = refused(out, key.split()[-1])
        if not no and key in CONFIRM:
            prog = key.split()[0]
            out = run([OURS[prog]] + [img if a == 'IMG' else a
                                      for a in CONFIRM[key]], tmp)
            no = out is None or bool(REFUSED.search(out))
        checked.append((key, no, out))

    # Top-level options of each program.
    for prog in OURS:
        deb = run([os.path.join(DEBIAN, prog), '--help'], tmp)
        if prog == 'qemu-img':
            deb = deb.split('Command syntax:')[0]
        seen = set()
        for opt in options_in(deb):
            if opt in seen or opt in ('-h', '--help', '-V', '--version'):
                continue
            seen.add(opt)
            probe('%s %s' % (prog, opt), [OURS[prog], opt] + BOGUS)

    # qemu-img commands and their options.
    deb = run([os.path.join(DEBIAN, 'qemu-img'), '--help'], tmp)
    syntax = deb.split('Command syntax:')[1].split('Command parameters:')[0]
    for line in syntax.strip().splitlines():
        cmd, _, rest = line.strip().partition(' ')
        out = run([OURS['qemu-img'], cmd, '--help'], tmp)
        if out is None or 'Command not found' in out:
            checked.append(('qemu-img cmd ' + cmd, True, out))
            continue
        checked.append(('qemu-img cmd ' + cmd, False, out))
        seen = set()
        for opt in options_in(rest):
            if opt in seen:
                continue
            seen.add(opt)
            probe('qemu-img %s %s' % (cmd, opt),
                  [OURS['qemu-img'], cmd, opt] + BOGUS)

    # qemu-io commands and their options.
    deb = run([os.path.join(DEBIAN, 'qemu-io'), '-c', 'help'], tmp)
    for line in deb.splitlines():
        m = re.match(r'^(\w+)\s*(.*?)\s*-- ', line)
        if not m:
            continue
        cmd, args = m.group(1), m.group(2)
        out = run([OURS['qemu-io'], '-f', 'raw', '-c', 'help ' + cmd, img],
                  tmp)
        known = out is not None and not REFUSED.search(out)
        checked.append(('qemu-io cmd ' + cmd, not known, out))
        if not known:
            continue
        seen = set()
        for opt in options_in(args):
            if opt in seen:
                continue
            seen.add(opt)
            # A bare option: the command stops at its missing arguments.
            probe('qemu-io %s %s' % (cmd, opt),
                  [OURS['qemu-io'], '-f', 'raw', '-c', '%s %s' % (cmd, opt),
                   img])

    failures = []
    n = 0
    for key, no, out in checked:
        n += 1
        if no and key not in PENDING:
            failures.append('%s: Debian has it, ours refuses it and it is '
                            'not listed as pending: %s' %
                            (key, (out or 'timeout').strip()[:200]))
        elif not no and key in PENDING:
            failures.append('%s: listed as pending (%s) but ours accepts it'
                            % (key, PENDING[key]))
    keys = {k for k, _, _ in checked}
    for key in PENDING:
        if key not in keys:
            failures.append('%s: listed as pending, but Debian has no such '
                            'option or command' % key)
    subprocess.run(['rm', '-rf', tmp])
    for f in failures:
        print('FAIL: ' + f)
    if failures:
        return 1
    print('ok - %d options and commands of Debian\'s programs: implemented,'
          ' or pending with a reason (%d)' % (n, len(PENDING)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
