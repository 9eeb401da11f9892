#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NBD client benchmark: our qemu-img (the nbd block driver) beside
# Debian's qemu-img, as clients of the same server in the same run.
#
#   usage: tests/bench/bench-nbd-client.sh [build-dir]
#   env:   BENCH_REPEAT   runs per row, the best is kept (default 5)
#          BENCH_SIZE_MB  image size in MiB (default 1024)
#          BENCH_DELAY_MS latency of the slow server below (default 1)
#
# Servers: nbdkit's file plugin and Debian's qemu-nbd, each serving a raw
# image on /dev/shm over a UNIX socket. Rows: qemu-img bench (4k reads at
# depth 1 and 32, 4k writes at depth 32, 1M reads at depth 8), and
# qemu-img convert of the whole export to /dev/shm; then ours with
# multi-conn=4 against one connection (nbdkit).
#
# Last, the same with nbdkit's delay filter adding BENCH_DELAY_MS to every
# read and write: a server whose storage has latency, the case multi-conn
# is for. nbdkit serves each connection with a pool of 16 threads, so one
# connection holds at most 16 requests in service at a time, N connections
# 16*N. Higher is better in every column; the ratio is ours / Debian's, or
# multi-conn=4 / one connection where the row says so.
set -uo pipefail

BUILD=$(readlink -f "${1:-build}")
OURS=$BUILD/qemu-img
DEB=/usr/bin/qemu-img
REPEAT=${BENCH_REPEAT:-5}
SIZE_MB=${BENCH_SIZE_MB:-1024}
DELAY_MS=${BENCH_DELAY_MS:-1}
DIR=$(mktemp -d /dev/shm/bench-nbd-client.XXXXXX)
SPID=""

[ -x "$OURS" ] || { echo "build $OURS first"; exit 1; }
[ -x "$DEB" ] || { echo "Debian's qemu-img is not installed"; exit 1; }

cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT

# Fill the image with data so that reads and convert move real bytes.
dd if=/dev/urandom of="$DIR/disk.img" bs=1M count="$SIZE_MB" \
    status=none || exit 1

start_server() {
    rm -f "$DIR/sock" "$DIR/srv.pid"
    case $1 in
    nbdkit)
        nbdkit -U "$DIR/sock" -P "$DIR/srv.pid" file "$DIR/disk.img" ;;
    nbdkit-delay)
        nbdkit -U "$DIR/sock" -P "$DIR/srv.pid" --filter=delay \
            file "$DIR/disk.img" delay-read=${DELAY_MS}ms \
            delay-write=${DELAY_MS}ms ;;
    qemu-nbd)
        /usr/bin/qemu-nbd -t -f raw -k "$DIR/sock" --cache=writeback \
            --fork --pid-file "$DIR/srv.pid" "$DIR/disk.img" ;;
    esac
    for _ in $(seq 50); do
        [ -S "$DIR/sock" ] && [ -s "$DIR/srv.pid" ] && break
        sleep 0.1
    done
    SPID=$(cat "$DIR/srv.pid")
}

stop_server() {
    kill "$SPID" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    SPID=""
}

# run_ns CMD...: the wall time of one run in ns (0 if it failed).
run_ns() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>"$DIR/err" || { cat "$DIR/err" >&2; echo 0; return; }
    t1=$(date +%s%N)
    echo $(( t1 - t0 ))
}

# min_ns BEST T: the smaller of two times, an empty BEST counting as none.
min_ns() {
    if [ -z "$1" ] || [ "$2" -lt "$1" ]; then echo "$2"; else echo "$1"; fi
}

secs() {
    echo "scale=4; $1 / 1000000000" | bc
}

# best_time CMD...: the shortest wall time of REPEAT runs, in seconds.
best_time() {
    local best=""
    for _ in $(seq "$REPEAT"); do
        best=$(min_ns "$best" "$(run_ns "$@")")
    done
    secs "$best"
}

# best_pair ARGS...: ours and Debian's qemu-img with ARGS, runs taken in
# turns (ours, Debian's, ours, ...) so that a slow spell of the machine
# hits both; prints the two best times in seconds.
best_pair() {
    local ob="" db=""
    for _ in $(seq "$REPEAT"); do
        ob=$(min_ns "$ob" "$(run_ns "$OURS" "$@")")
        db=$(min_ns "$db" "$(run_ns "$DEB" "$@")")
    done
    echo "$(secs "$ob") $(secs "$db")"
}

row() {
    # row NAME UNIT AMOUNT OURS_SECONDS DEB_SECONDS
    local o d
    o=$(echo "scale=1; $3 / $4" | bc)
    d=$(echo "scale=1; $3 / $5" | bc)
    printf "%-26s %-8s %12s %12s %7.2f\n" "$1" "$2" "$o" "$d" \
        "$(echo "scale=4; $5 / $4" | bc)"
}

URI="nbd+unix:///?socket=$DIR/sock"
echo "qemu-img as an NBD client, best of $REPEAT runs taken in turns," \
    "image ${SIZE_MB} MiB on /dev/shm"
echo "reproduce: make bench-nbd-client   (tests/bench/bench-nbd-client.sh)"
for server in nbdkit qemu-nbd; do
    start_server "$server"
    echo
    echo "server: $server"
    printf "%-26s %-8s %12s %12s %7s\n" workload unit ours debian ratio
    for spec in "read-4k-qd1:-c 20000 -d 1 -s 4k:20000:IOPS" \
                "read-4k-qd32:-c 200000 -d 32 -s 4k:200000:IOPS" \
                "write-4k-qd32:-w -c 200000 -d 32 -s 4k:200000:IOPS" \
                "read-1m-qd8:-c 4000 -d 8 -s 1M -S 1M:4000:MiB/s"; do
        IFS=: read -r name args n unit <<<"$spec"
        # shellcheck disable=SC2086
        read -r o d <<<"$(best_pair bench -f raw $args "$URI")"
        row "$name" "$unit" "$n" "$o" "$d"
    done
    read -r o d <<<"$(best_pair convert -f raw -O raw "$URI" \
                      "$DIR/out.img")"
    row "convert-${SIZE_MB}M-out" "MiB/s" "$SIZE_MB" "$o" "$d"
    rm -f "$DIR/out.img"
    if [ "$server" = nbdkit ]; then
        mc="driver=nbd,server.type=unix,server.path=$DIR/sock"
        one=$(best_time "$OURS" bench -c 200000 -d 32 -s 4k \
              --image-opts "$mc")
        four=$(best_time "$OURS" bench -c 200000 -d 32 -s 4k \
               --image-opts "$mc,multi-conn=4")
        printf "%-26s %-8s %12s %12s %7.2f   (multi-conn=4 / 1 conn)\n" \
            "read-4k-qd32-multiconn" IOPS \
            "$(echo "scale=1; 200000 / $four" | bc)" \
            "$(echo "scale=1; 200000 / $one" | bc)" \
            "$(echo "scale=4; $one / $four" | bc)"
        o=$(best_time "$OURS" convert -O raw --image-opts \
            "$mc,multi-conn=4" "$DIR/out.img")
        printf "%-26s %-8s %12s %12s %7.2f   (ours multi-conn=4 / Debian)\n" \
            "convert-multiconn" "MiB/s" \
            "$(echo "scale=1; $SIZE_MB / $o" | bc)" \
            "$(echo "scale=1; $SIZE_MB / $d" | bc)" \
            "$(echo "scale=4; $d / $o" | bc)"
        rm -f "$DIR/out.img"
    fi
    stop_server
done

# The server with latency: ours with one connection and with four,
# Debian's (one connection: it has no multi-conn) beside them.
start_server nbdkit-delay
mc="driver=nbd,server.type=unix,server.path=$DIR/sock"
echo
echo "server: nbdkit file plugin, delay filter ${DELAY_MS} ms per read/write"
printf "%-26s %-8s %12s %12s %12s %7s\n" workload unit ours-mc4 ours-1 \
    debian "mc4/1"
for spec in "read-4k-qd32:-c 20000 -d 32 -s 4k:20000:IOPS" \
            "write-4k-qd32:-w -c 20000 -d 32 -s 4k:20000:IOPS" \
            "read-64k-qd64:-c 10000 -d 64 -s 64k:625:MiB/s"; do
    IFS=: read -r name args n unit <<<"$spec"
    # shellcheck disable=SC2086
    four=$(best_time "$OURS" bench $args --image-opts "$mc,multi-conn=4")
    # shellcheck disable=SC2086
    read -r one d <<<"$(best_pair bench -f raw $args "$URI")"
    printf "%-26s %-8s %12s %12s %12s %7.2f\n" "$name" "$unit" \
        "$(echo "scale=1; $n / $four" | bc)" \
        "$(echo "scale=1; $n / $one" | bc)" \
        "$(echo "scale=1; $n / $d" | bc)" \
        "$(echo "scale=4; $one / $four" | bc)"
done
four=$(best_time "$OURS" convert -O raw --image-opts "$mc,multi-conn=4" \
       "$DIR/out.img")
rm -f "$DIR/out.img"
read -r one d <<<"$(best_pair convert -f raw -O raw "$URI" "$DIR/out.img")"
rm -f "$DIR/out.img"
printf "%-26s %-8s %12s %12s %12s %7.2f\n" "convert-${SIZE_MB}M-out" MiB/s \
    "$(echo "scale=1; $SIZE_MB / $four" | bc)" \
    "$(echo "scale=1; $SIZE_MB / $one" | bc)" \
    "$(echo "scale=1; $SIZE_MB / $d" | bc)" \
    "$(echo "scale=4; $one / $four" | bc)"
stop_server
