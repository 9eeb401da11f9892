#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NBD server benchmark (not a test): fio's nbd engine against our qemu-nbd
# (plain and with --iothreads 2), Debian's qemu-nbd, nbdkit's file plugin
# and nbd-server, all serving the same raw image on /dev/shm over a UNIX
# socket.  Each server gets a fresh start; for every workload we record
# fio's result and the server's CPU seconds (/proc/PID/stat, all threads
# plus reaped children, so nbd-server's per-client forks count too).
#
#   usage: tests/bench/bench-nbd.sh [path/to/our/qemu-nbd]
#   env:   BENCH_RUNTIME   seconds per workload (default 10)
#          BENCH_SIZE_MB   image size in MiB (default 1024)
#          BENCH_SERVERS   space-separated subset of:
#                          ours ours-iot2 debian nbdkit nbd-server
#          BENCH_AIO       --aio mode for both qemu-nbds (default io_uring)
#
# All servers use the host page cache (qemu-nbd --cache=writeback, nbdkit
# and nbd-server default); fio uses --direct=1 on its side.
set -uo pipefail

OURS=${1:-build/qemu-nbd}
OURS=$(readlink -f "$OURS")
RUNTIME=${BENCH_RUNTIME:-10}
SIZE_MB=${BENCH_SIZE_MB:-1024}
AIO=${BENCH_AIO:-io_uring}
SERVERS=${BENCH_SERVERS:-ours ours-iot2 debian nbdkit nbd-server}
DEBIAN_QEMU_NBD=/usr/bin/qemu-nbd
EXPORT=bench
CLK_TCK=$(getconf CLK_TCK)

# name rw bs iodepth numjobs metric(lat|iops|mibs)
WORKLOADS=(
    "randread-4k-qd1     randread  4k 1  1 lat"
    "randread-4k-qd32    randread  4k 32 1 iops"
    "randwrite-4k-qd32   randwrite 4k 32 1 iops"
    "read-1m-qd8         read      1M 8  1 mibs"
    "write-1m-qd8        write     1M 8  1 mibs"
    "randread-4k-2conn   randread  4k 16 2 iops"
)

for tool in fio python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "bench-nbd: $tool not found" >&2
        exit 1
    fi
done
if ! fio --enghelp=nbd >/dev/null 2>&1; then
    echo "bench-nbd: this fio has no nbd engine" >&2
    exit 1
fi
if [ ! -x "$OURS" ]; then
    echo "bench-nbd: our qemu-nbd '$OURS' not found (run make)" >&2
    exit 1
fi

DIR=$(mktemp -d /dev/shm/bench-nbd.XXXXXX)
IMG=$DIR/disk.img
SOCK=$DIR/nbd.sock
RESULTS=$DIR/results.tsv
SPID=""

stop_server() {
    if [ -n "$SPID" ]; then
        # nbd-server forks one child per client; stop those by parent id.
        pkill -TERM -P "$SPID" 2>/dev/null
        kill "$SPID" 2>/dev/null
        for _ in $(seq 50); do
            kill -0 "$SPID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SPID" 2>/dev/null
        wait "$SPID" 2>/dev/null
        SPID=""
    fi
    rm -f "$SOCK"
}
cleanup() {
    stop_server
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# utime + stime + cutime + cstime, in clock ticks
cpu_ticks() {
    sed 's/.*) //' "/proc/$1/stat" 2>/dev/null |
        awk '{ print $12 + $13 + $14 + $15 }'
}

wait_socket() {
    for _ in $(seq 100); do
        [ -S "$SOCK" ] && return 0
        kill -0 "$SPID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# Start server $1 in the background; sets SPID.  Returns 2 to skip.
start_server() {
    local name=$1
    rm -f "$SOCK"
    case $name in
    ours)
        "$OURS" -t -f raw -x "$EXPORT" -e 8 -k "$SOCK" \
            --cache=writeback --aio="$AIO" "$IMG" \
            >"$DIR/$name.log" 2>&1 &
        SPID=$!
        ;;
    ours-iot2)
        "$OURS" -t -f raw -x "$EXPORT" -e 8 -k "$SOCK" \
            --cache=writeback --aio="$AIO" --iothreads=2 "$IMG" \
            >"$DIR/$name.log" 2>&1 &
        SPID=$!
        ;;
    debian)
        if [ ! -x "$DEBIAN_QEMU_NBD" ]; then
            echo "skip $name: $DEBIAN_QEMU_NBD not installed"
            return 2
        fi
        "$DEBIAN_QEMU_NBD" -t -f raw -x "$EXPORT" -e 8 -k "$SOCK" \
            --cache=writeback --aio="$AIO" "$IMG" \
            >"$DIR/$name.log" 2>&1 &
        SPID=$!
        ;;
    nbdkit)
        if ! command -v nbdkit >/dev/null; then
            echo "skip $name: nbdkit not installed"
            return 2
        fi
        nbdkit -f -U "$SOCK" file "$IMG" >"$DIR/$name.log" 2>&1 &
        SPID=$!
        ;;
    nbd-server)
        if ! command -v nbd-server >/dev/null; then
            echo "skip $name: nbd-server not installed"
            return 2
        fi
        cat >"$DIR/nbd-server.conf" <<EOF
[generic]
    unixsock = $SOCK
[$EXPORT]
    exportname = $IMG
EOF
        # -d would serve a single client in-process, so let it daemonize
        # (one fork per client) and take its pid from the pid file.
        rm -f "$DIR/nbd-server.pid"
        nbd-server -C "$DIR/nbd-server.conf" -p "$DIR/nbd-server.pid" \
            >"$DIR/$name.log" 2>&1
        for _ in $(seq 50); do
            [ -s "$DIR/nbd-server.pid" ] && break
            sleep 0.1
        done
        SPID=$(cat "$DIR/nbd-server.pid" 2>/dev/null)
        if [ -z "$SPID" ]; then
            echo "skip $name: no pid file; log:"
            cat "$DIR/$name.log"
            return 2
        fi
        ;;
    *)
        echo "bench-nbd: unknown server '$name'" >&2
        return 2
        ;;
    esac
    if ! wait_socket; then
        echo "skip $name: server did not start; log:"
        cat "$DIR/$name.log"
        stop_server
        return 2
    fi
    return 0
}

# Parse fio's JSON: prints "iops MiB/s mean-latency-us ios bytes"
parse_fio() {
    python3 - "$1" <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
# fio may print notes before the JSON object
d = json.loads(text[text.index('{'):])
iops = bw = ios = nbytes = lat_sum = 0.0
for job in d['jobs']:
    for dirn in ('read', 'write'):
        s = job[dirn]
        if s['total_ios'] == 0:
            continue
        iops += s['iops']
        bw += s['bw_bytes']
        ios += s['total_ios']
        nbytes += s['io_bytes']
        lat_sum += s['lat_ns']['mean'] * s['total_ios']
lat = lat_sum / ios / 1000 if ios else 0
print('%.1f %.2f %.2f %d %d' % (iops, bw / 1048576, lat, ios, nbytes))
EOF
}

echo "bench-nbd: ${SIZE_MB} MiB image on /dev/shm, ${RUNTIME}s per workload"
echo "bench-nbd: filling $IMG with random data"
dd if=/dev/urandom of="$IMG" bs=1M count="$SIZE_MB" status=none || exit 1

printf 'server\tworkload\tmetric\tiops\tmibs\tlat_us\tios\tbytes\tcpu_s\n' \
    >"$RESULTS"

for srv in $SERVERS; do
    start_server "$srv"
    rc=$?
    if [ $rc -ne 0 ]; then
        printf '%s\t-\tskip\n' "$srv" >>"$RESULTS"
        continue
    fi
    echo "== $srv (pid $SPID)"
    URI="nbd+unix:///$EXPORT?socket=$SOCK"
    for wl in "${WORKLOADS[@]}"; do
        read -r name rw bs qd jobs metric <<<"$wl"
        out=$DIR/$srv-$name.json
        before=$(cpu_ticks "$SPID")
        fio --name="$name" --ioengine=nbd --uri="$URI" --direct=1 \
            --rw="$rw" --bs="$bs" --iodepth="$qd" --numjobs="$jobs" \
            --group_reporting --time_based --runtime="$RUNTIME" \
            --output-format=json --output="$out" >"$DIR/fio.err" 2>&1
        frc=$?
        # let nbd-server reap its per-client children so cutime counts them
        sleep 0.3
        after=$(cpu_ticks "$SPID")
        if ! kill -0 "$SPID" 2>/dev/null || [ -z "$after" ]; then
            echo "  $name: SERVER DIED (fio rc $frc); fio said:"
            sed 's/^/    /' "$DIR/fio.err"
            echo "  server log:"
            sed 's/^/    /' "$DIR/$srv.log"
            printf '%s\t%s\tdied\n' "$srv" "$name" >>"$RESULTS"
            SPID=""
            break
        fi
        if [ $frc -ne 0 ] || ! parsed=$(parse_fio "$out" 2>>"$DIR/fio.err")
        then
            echo "  $name: fio FAILED (rc $frc):"
            sed 's/^/    /' "$DIR/fio.err"
            [ -f "$out" ] && sed 's/^/    /' "$out" | head -20
            printf '%s\t%s\tfail\n' "$srv" "$name" >>"$RESULTS"
            continue
        fi
        cpu=$(awk -v a="$before" -v b="$after" -v t="$CLK_TCK" \
            'BEGIN { printf "%.2f", (b - a) / t }')
        read -r iops mibs lat ios nbytes <<<"$parsed"
        printf '  %-18s %10s IOPS %9s MiB/s %9s us  cpu %6ss\n' \
            "$name" "$iops" "$mibs" "$lat" "$cpu"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$srv" "$name" \
            "$metric" "$iops" "$mibs" "$lat" "$ios" "$nbytes" "$cpu" \
            >>"$RESULTS"
    done
    stop_server
done

echo
python3 - "$RESULTS" "$SERVERS" <<'EOF'
import sys
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1])][1:]
servers = sys.argv[2].split()
order, res, status = [], {}, {}
for r in rows:
    srv, wl = r[0], r[1]
    if r[2] in ('skip', 'died', 'fail'):
        status[(srv, wl)] = r[2]
        continue
    if wl not in order:
        order.append(wl)
    res[(srv, wl)] = dict(metric=r[2], iops=float(r[3]), mibs=float(r[4]),
                          lat=float(r[5]), ios=int(r[6]),
                          nbytes=int(r[7]), cpu=float(r[8]))
for (srv, wl), st in status.items():
    if wl != '-' and wl not in order:
        order.append(wl)
units = {'lat': 'mean lat us (lower better)', 'iops': 'IOPS',
         'mibs': 'MiB/s'}

def perf(x):
    return {'lat': x['lat'], 'iops': x['iops'], 'mibs': x['mibs']}[x['metric']]

def cpu_norm(x):
    # CPU seconds per 1k I/O (4k workloads) or per GiB (1M workloads)
    if x['metric'] == 'mibs':
        return x['cpu'] / (x['nbytes'] / 2**30) if x['nbytes'] else 0
    return x['cpu'] / (x['ios'] / 1000) if x['ios'] else 0

def cell(srv, wl):
    x = res.get((srv, wl))
    if x is None:
        st = status.get((srv, wl)) or status.get((srv, '-')) or 'n/a'
        return st
    return '%.0f / %.3f' % (perf(x), cpu_norm(x))

w0 = max(len(w) for w in order) if order else 8
cw = max(16, max(len(s) for s in servers) + 1)
print('Results: metric / server CPU-s per 1k I/O (4k rows) or per GiB '
      '(1M rows)')
print('%-*s  %-*s' % (w0, 'workload', 28, 'metric') +
      ''.join('%*s' % (cw, s) for s in servers))
for wl in order:
    m = next((res[(s, wl)]['metric'] for s in servers if (s, wl) in res),
             'iops')
    print('%-*s  %-*s' % (w0, wl, 28, units[m]) +
          ''.join('%*s' % (cw, cell(s, wl)) for s in servers))

ours = [s for s in ('ours', 'ours-iot2') if s in servers]
peers = [s for s in servers if s not in ('ours', 'ours-iot2')]
if ours and peers:
    print()
    print('Ratios: perf = our speed / peer speed (>1: ours faster; for '
          'latency peer/ours), cpu = our CPU per op / peer CPU per op '
          '(<1: ours cheaper)')
    cols = ['%s/%s' % (o, p) for o in ours for p in peers]
    cw2 = max(20, max(len(c) for c in cols) + 2)
    print('%-*s' % (w0, 'workload') + ''.join('%*s' % (cw2, c) for c in cols))
    for wl in order:
        line = '%-*s' % (w0, wl)
        for o in ours:
            for p in peers:
                a, b = res.get((o, wl)), res.get((p, wl))
                if not a or not b or perf(a) == 0 or perf(b) == 0:
                    line += '%*s' % (cw2, 'n/a')
                    continue
                if a['metric'] == 'lat':
                    r = perf(b) / perf(a)
                else:
                    r = perf(a) / perf(b)
                c = cpu_norm(a) / cpu_norm(b) if cpu_norm(b) else float('nan')
                line += '%*s' % (cw2, 'perf %.2f cpu %.2f' % (r, c))
        print(line)
EOF

echo
echo "Reproduce: BENCH_RUNTIME=$RUNTIME BENCH_SIZE_MB=$SIZE_MB" \
    "BENCH_AIO=$AIO BENCH_SERVERS='$SERVERS'" \
    "tests/bench/bench-nbd.sh $OURS"
echo "  (or: make bench-nbd BENCH_RUNTIME=$RUNTIME)"
echo "  per workload: fio --ioengine=nbd --uri='nbd+unix:///$EXPORT?socket=SOCK'" \
    "--direct=1 --rw=RW --bs=BS --iodepth=QD --numjobs=N --group_reporting" \
    "--time_based --runtime=$RUNTIME --output-format=json"
echo "  host: $(nproc) CPUs, $(uname -r); fio $(fio --version)"
