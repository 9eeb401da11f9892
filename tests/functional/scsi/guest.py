#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The success path of qemu-pr-helper on a SCSI disk that implements
persistent reservations: a Linux guest (Debian's kernel, busybox) makes a
LIO tcm_loop LUN on a ramdisk backstore, runs the helper in it, and
pr-guest-client registers, reserves, reads keys and reservation, releases
and unregisters through the helper, checking every answer against SG_IO
on the disk and against sg_persist. When Debian's qemu-pr-helper is
installed, the same client runs against it too. Then the helper gets
SIGTERM and must exit with status 0.

When our helper is built with multipath (it links libmpathpersist), the
LUN gets a second tcm_loop path, dmsetup makes a dm-multipath map over
both, and the client runs on the map expecting every registration on both
paths (READ KEYS lists the key twice), which only happens when the helper
sends PR OUT through libmpathpersist; that helper runs as nobody, group
disk, to show that multipath survives the privilege drop. As a control,
Debian's helper (built without multipath) must fail that very check on
the map.

The guest runs under TCG (about 15 s): nested KVM on the machines this was
written on hangs without output. PRGUEST_ACCEL=kvm asks for KVM.

The guest's TAP lines are relayed, renumbered.

usage: guest.py OUR-HELPER PR-GUEST-CLIENT
"""
import glob
import os
import re
import shutil
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prhelper import DEBIAN_HELPER, Tap, skip, tmpdir  # noqa

QEMU = "qemu-system-x86_64"
BUSYBOX = "/bin/busybox"
SG_PERSIST = "/usr/bin/sg_persist"
# Deps come from modules.dep; the crypto modules back crc-t10dif and
# crc64-rocksoft, which only look them up by name.
MODULES = ("sd_mod", "target_core_mod", "tcm_loop", "crct10dif_generic",
           "crc64_rocksoft_generic")
MPATH_MODULES = ("dm_multipath", "dm_round_robin")
DMSETUP = "/usr/sbin/dmsetup"
# libmultipath's path checkers, loaded at run time
MPATH_PLUGINS = "/lib/multipath"
TIMEOUT = 150

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run /var/target/pr
fail() {
    echo "PRGUEST-RESULT: FAIL $*"
    poweroff -f
}
for m in $(cat /modules.order); do
    insmod "/modules/$m" || fail "insmod $m"
done
mount -t configfs configfs /sys/kernel/config || fail "mount configfs"

# A ramdisk backstore behind a tcm_loop port: a SCSI disk with SPC-3 PR.
T=/sys/kernel/config/target
D=$T/core/rd_mcp_0/disk0
mkdir -p $D || fail "mkdir $D"
echo rd_pages=2048 > $D/control || fail "rd_pages"
echo 1 > $D/enable || fail "enable backstore"
W=$T/loopback/naa.5001405a0b0c0d01/tpgt_1
mkdir -p $W/lun/lun_0 || fail "mkdir $W"
echo naa.5001405a0b0c0d02 > $W/nexus || fail "nexus"
ln -s $D $W/lun/lun_0/disk0 || fail "lun link"
n=0
while [ ! -b /dev/sda ]; do
    n=$((n + 1))
    [ $n -gt 300 ] && fail "no /dev/sda"
    sleep 0.1
done
echo "PRGUEST-DISK: $(cat /sys/block/sda/device/vendor)" \
    "$(cat /sys/block/sda/device/model)"

run_helper() {
    name=$1
    helper=$2
    dev=$3
    paths=$4
    rm -f /run/pr.sock
    $helper -k /run/pr.sock -f /run/pr.pid &
    pid=$!
    n=0
    while [ ! -S /run/pr.sock ]; do
        n=$((n + 1))
        [ $n -gt 100 ] && fail "$name: no socket"
        sleep 0.1
    done
    echo "PRGUEST-BEGIN: $name"
    /bin/pr-guest-client /run/pr.sock $dev $paths
    echo "PRGUEST-CLIENT-EXIT: $name $?"
    kill -TERM $pid
    wait $pid
    echo "PRGUEST-HELPER-EXIT: $name $?"
}

run_helper ours /bin/qemu-pr-helper /dev/sda 1
if [ -x /bin/debian-qemu-pr-helper ]; then
    run_helper debian /bin/debian-qemu-pr-helper /dev/sda 1
fi

if [ -e /mpath ]; then
    # A second path to the same LUN, and a multipath map over both.
    W2=$T/loopback/naa.5001405a0b0c0d11/tpgt_1
    mkdir -p $W2/lun/lun_0 || fail "mkdir $W2"
    echo naa.5001405a0b0c0d12 > $W2/nexus || fail "nexus 2"
    ln -s $D $W2/lun/lun_0/disk0 || fail "lun link 2"
    n=0
    while [ ! -b /dev/sdb ]; do
        n=$((n + 1))
        [ $n -gt 300 ] && fail "no /dev/sdb"
        sleep 0.1
    done
    sz=$(blockdev --getsz /dev/sda)
    a=$(cat /sys/block/sda/dev)
    b=$(cat /sys/block/sdb/dev)
    dmsetup create --noudevsync mpatha --uuid mpath-36001405a0b0c0d01 \
        --table "0 $sz multipath 0 0 1 1 round-robin 0 2 1 $a 1000 $b 1000" ||
        fail "dmsetup create"
    n=0
    while [ ! -b /dev/dm-0 ]; do
        n=$((n + 1))
        [ $n -gt 100 ] && fail "no /dev/dm-0"
        sleep 0.1
    done
    echo "PRGUEST-MPATH: $(dmsetup table mpatha)"
    # As Debian's udev has it: the paths belong to group disk (6). The
    # helper runs as nobody in that group, with CAP_SYS_ADMIN kept for
    # the device-mapper and CAP_SYS_RAWIO for the paths' SG_IO.
    chgrp 6 /dev/sda /dev/sdb && chmod 660 /dev/sda /dev/sdb ||
        fail "chmod paths"
    run_helper ours-mpath "/bin/qemu-pr-helper -u 65534 -g 6" /dev/dm-0 2
    # The control: a helper without multipath registers on one path only.
    if [ -x /bin/debian-qemu-pr-helper ]; then
        run_helper debian-mpath /bin/debian-qemu-pr-helper /dev/dm-0 2
    fi
fi
echo "PRGUEST-RESULT: DONE"
poweroff -f
"""


def cpio_newc(entries):
    """entries: (path, mode, data or symlink target). Returns the archive
    in the kernel's initramfs format."""
    out = bytearray()

    def pad(n):
        out.extend(bytes((4 - len(out) % 4) % 4))

    for ino, (path, mode, data) in enumerate(entries + [("TRAILER!!!", 0,
                                                          b"")], 1):
        name = path.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), 0]
        out.extend(b"070701" + b"".join(b"%08x" % f for f in fields))
        out.extend(name)
        pad(4)
        out.extend(data)
        pad(4)
    return bytes(out)


def shared_libs(binary):
    """Every library the dynamic loader maps for @binary, loader included."""
    r = subprocess.run(["ldd", binary], capture_output=True, text=True,
                       check=True)
    libs = []
    for line in r.stdout.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


def module_order(kdir, names):
    """The .ko files for @names, dependencies first (modules.dep)."""
    deps = {}
    with open(os.path.join(kdir, "modules.dep")) as f:
        for line in f:
            mod, _, rest = line.partition(":")
            deps[mod] = rest.split()
    byname = {os.path.basename(m).split(".ko")[0].replace("-", "_"): m
              for m in deps}
    order = []

    def visit(mod):
        if mod in order:
            return
        for d in deps.get(mod, []):
            visit(d)
        order.append(mod)

    for n in names:
        if n in byname:
            visit(byname[n])
    return order


def find_kernel():
    for kdir in sorted(glob.glob("/lib/modules/*/"), reverse=True):
        ver = os.path.basename(kdir.rstrip("/"))
        vmlinuz = f"/boot/vmlinuz-{ver}"
        tcm = glob.glob(os.path.join(kdir, "kernel/drivers/target/loopback/"
                                     "tcm_loop.ko*"))
        if os.path.exists(vmlinuz) and os.access(vmlinuz, os.R_OK) and tcm:
            return vmlinuz, kdir
    return None, None


def read_module(path):
    if path.endswith(".xz"):
        return subprocess.run(["xz", "-dc", path], capture_output=True,
                              check=True).stdout
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], capture_output=True,
                              check=True).stdout
    with open(path, "rb") as f:
        return f.read()


def has_mpath(helper):
    return any("libmpathpersist" in lib for lib in shared_libs(helper))


def find_libgcc_s():
    """libgcc_s, which glibc loads when a thread calls pthread_exit()
    (libmpathpersist's per-path threads do)."""
    for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64",
              "/usr/lib64"):
        p = os.path.join(d, "libgcc_s.so.1")
        if os.path.exists(p):
            return p
    return None


def build_initramfs(helper, client, vmlinuz, kdir, mpath=False):
    entries = []
    dirs = set()

    def add_dir(path):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                entries.append((d, stat.S_IFDIR | 0o755, b""))

    def add_file(path, data, mode=0o755):
        add_dir(os.path.dirname(path))
        entries.append((path.lstrip("/"), stat.S_IFREG | mode, data))

    def add_host_file(src, dst=None, mode=0o755):
        with open(src, "rb") as f:
            add_file(dst or src, f.read(), mode)

    for d in ("proc", "sys", "dev", "bin", "modules"):
        add_dir(d)
    add_file("/init", INIT.encode())
    add_host_file(BUSYBOX, "/bin/busybox")
    binaries = {helper: "/bin/qemu-pr-helper",
                client: "/bin/pr-guest-client"}
    if os.access(SG_PERSIST, os.X_OK):
        binaries[SG_PERSIST] = "/bin/sg_persist"
    if os.access(DEBIAN_HELPER, os.X_OK):
        binaries[DEBIAN_HELPER] = "/bin/debian-qemu-pr-helper"
    libs = set()
    modules = MODULES
    if mpath:
        add_file("/mpath", b"", 0o644)
        binaries[DMSETUP] = "/bin/dmsetup"
        modules = MODULES + MPATH_MODULES
        for plugin in sorted(glob.glob(os.path.join(MPATH_PLUGINS, "*.so"))):
            add_host_file(plugin)
            libs.update(shared_libs(plugin))
        libs.add(find_libgcc_s())
    for src, dst in binaries.items():
        add_host_file(src, dst)
        libs.update(shared_libs(src))
    for lib in sorted(libs):
        add_host_file(os.path.realpath(lib), lib)

    names = []
    for mod in module_order(kdir, modules):
        base = os.path.basename(mod)
        base = re.sub(r"\.(xz|zst|gz)$", "", base)
        add_file("/modules/" + base, read_module(os.path.join(kdir, mod)),
                 0o644)
        names.append(base)
    add_file("/modules.order", ("\n".join(names) + "\n").encode(), 0o644)
    return cpio_newc(entries)


def pick_accel():
    """TCG unless PRGUEST_ACCEL says otherwise: this guest boots and runs
    in about 10 s under TCG, while nested KVM, where /dev/kvm opens at
    all, has been seen to hang without a byte of output."""
    accel = os.environ.get("PRGUEST_ACCEL", "tcg")
    if accel == "kvm":
        try:
            os.close(os.open("/dev/kvm", os.O_RDWR))
        except OSError:
            accel = "tcg"
    return accel


def run_guest(kernel, initrd, accel):
    cmd = [QEMU, "-accel", accel, "-m", "512", "-smp", "1",
           "-nodefaults", "-display", "none", "-serial", "stdio",
           "-no-reboot", "-kernel", kernel, "-initrd", initrd,
           "-append", "console=ttyS0 panic=-1 loglevel=3 rdinit=/init"]
    if accel == "kvm":
        cmd[1:1] = ["-cpu", "host"]
    start = time.time()
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=TIMEOUT)
        out = r.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        out += f"\n(guest killed after {TIMEOUT} s)\n"
    return out.replace("\r", ""), time.time() - start


def main():
    helper, client = sys.argv[1], sys.argv[2]
    if not shutil.which(QEMU):
        skip(f"{QEMU} not installed (Debian package qemu-system-x86)")
    if not os.access(BUSYBOX, os.X_OK):
        skip(f"{BUSYBOX} not installed (Debian package busybox-static)")
    vmlinuz, kdir = find_kernel()
    if not vmlinuz:
        skip("no readable /boot/vmlinuz-* with tcm_loop in /lib/modules "
             "(Debian package linux-image-amd64)")
    mpath = has_mpath(helper)
    if mpath and not (os.access(DMSETUP, os.X_OK) and find_libgcc_s()):
        skip(f"{helper} has multipath but {DMSETUP} or libgcc_s is missing "
             "(Debian packages dmsetup, libgcc-s1)")
    tap = Tap()
    with tmpdir() as work:
        initrd = os.path.join(work, "initrd")
        with open(initrd, "wb") as f:
            f.write(build_initramfs(helper, client, vmlinuz, kdir, mpath))
        accel = pick_accel()
        out, secs = run_guest(vmlinuz, initrd, accel)
        print(f"# guest ({accel}, {os.path.basename(vmlinuz)}) ran "
              f"{secs:.1f} s")
        tap.ok("PRGUEST-RESULT: DONE" in out, "guest ran to the end",
               out[-3000:])
        disk = re.search(r"PRGUEST-DISK: (.*)", out)
        tap.ok(disk and "LIO-ORG" in disk.group(1),
               "guest has a LIO tcm_loop disk", disk and disk.group(1))

        # Each helper's part: the client's TAP, its exit, the helper's.
        parts = re.split(r"^PRGUEST-BEGIN: (\S+)$", out, flags=re.M)
        names = parts[1::2]
        want = ["ours"] + (["debian"] if os.access(DEBIAN_HELPER, os.X_OK)
                           else []) + (["ours-mpath"] if mpath else [])
        if mpath and os.access(DEBIAN_HELPER, os.X_OK):
            want.append("debian-mpath")
        tap.ok(names == want, f"client ran against {want}", names)
        for name, text in zip(names, parts[2::2]):
            if name == "debian-mpath":
                m = re.search(r"^(not )?ok \d+ - READ KEYS: the registered "
                              r"key, 2 time\(s\)$", text, re.M)
                tap.ok(m and m.group(1), "control: without multipath, "
                       "REGISTER on the map reaches one path only",
                       text[-2000:])
                continue
            cases = re.findall(r"^((?:not )?ok) \d+ - (.*)$", text, re.M)
            for verdict, what in cases:
                tap.ok(verdict == "ok", f"{name}: {what}")
            plan = re.search(r"^1\.\.(\d+)$", text, re.M)
            tap.ok(plan and int(plan.group(1)) == len(cases) and
                   len(cases) >= 20,
                   f"{name}: client ran all {len(cases)} cases",
                   text[-2000:])
            tap.ok(re.search(rf"^PRGUEST-CLIENT-EXIT: {name} 0$", text,
                             re.M), f"{name}: client exit status 0")
            tap.ok(re.search(rf"^PRGUEST-HELPER-EXIT: {name} 0$", text,
                             re.M), f"{name}: helper exits 0 on SIGTERM",
                   text[-2000:])
    tap.done()


if __name__ == "__main__":
    main()
