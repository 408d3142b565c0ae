#!/usr/bin/env bash
# RPC (evrpc) comparison, runtime-rpc vs libevent, in one run:
#
# 1. evtag codec: marshal and unmarshal CPU time per message of regress.rpc's
#    msg (163 bytes: a nested kill, two runs), benches/rpc_codec.rs vs
#    peers/libevent/evtag_bench.c (libevent's evtag_* with functions in
#    event_rpcgen.py's shape). Both are checked to encode the same bytes.
#    Runs alternate; the median of --runs runs is reported.
# 2. RPC round trips over one keep-alive connection: the rpc-client example
#    (pinned to CPU 1) calling Message, sequentially, on the rpc-server
#    example and on the C evrpc server (rpc/tests/c/evrpc_peer.c), each
#    pinned to CPU 0. Reported: round trips per second (wall clock, noisy),
#    the server's CPU time per round trip (utime+stime from /proc/PID/stat
#    over the measured run) and its system calls per round trip
#    (strace -c -f -p PID over a separate, shorter run).
#
# Usage: benches/rpc_compare.sh [--runs K] [--iters N] [--calls N] [--skip-build]
# Needs gcc, libevent-dev, strace, taskset. Everything listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5 iters=200000 calls=20000 build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --iters) iters=$2; shift 2 ;;
        --calls) calls=$2; shift 2 ;;
        --skip-build) build=0; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

mkdir -p target/tmp
tmp=$(mktemp -d -p "$PWD/target/tmp" rpc_compare.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

if [ "$build" = 1 ]; then
    cargo build --release --example rpc-server --example rpc-client >&2
    cargo bench --bench rpc_codec --no-run >&2
fi
rust_codec=$(cargo bench --bench rpc_codec --no-run --message-format=json 2> /dev/null |
    sed -n 's/.*"executable":"\([^"]*rpc_codec[^"]*\)".*/\1/p' | tail -1)
gcc -O2 -Wall -o "$tmp/evtag_bench" peers/libevent/evtag_bench.c -levent
gcc -O2 -Wall -o "$tmp/evrpc_peer" rpc/tests/c/evrpc_peer.c -levent
tck=$(getconf CLK_TCK)

echo "== evtag codec: CPU ns per message (median of $runs runs of $iters, CPU 1)"
rh=$("$rust_codec" hex)
ch=$("$tmp/evtag_bench" hex)
if [ "$rh" != "$ch" ]; then
    echo "encodings differ:"; echo " rust $rh"; echo " C    $ch"; exit 1
fi
echo "same bytes on both sides ($(( ${#rh} / 2 )) bytes)"
: > "$tmp/rust.codec"; : > "$tmp/c.codec"
for i in $(seq "$runs"); do
    if [ $((i % 2)) = 1 ]; then
        taskset -c 1 "$rust_codec" "$iters" >> "$tmp/rust.codec"
        taskset -c 1 "$tmp/evtag_bench" "$iters" >> "$tmp/c.codec"
    else
        taskset -c 1 "$tmp/evtag_bench" "$iters" >> "$tmp/c.codec"
        taskset -c 1 "$rust_codec" "$iters" >> "$tmp/rust.codec"
    fi
done
median() { # file field
    awk -v f="$2" '{for (i = 1; i <= NF; i++) {split($i, kv, "="); if (kv[1] == f) print kv[2]}}' "$1" |
        sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
rm_=$(median "$tmp/rust.codec" marshal_ns); ru=$(median "$tmp/rust.codec" unmarshal_ns)
cm=$(median "$tmp/c.codec" marshal_ns); cu=$(median "$tmp/c.codec" unmarshal_ns)
printf "%-22s %12s %14s\n" "" "marshal ns" "unmarshal ns"
printf "%-22s %12s %14s\n" "runtime-rpc" "$rm_" "$ru"
printf "%-22s %12s %14s\n" "libevent evtag 2.1" "$cm" "$cu"
printf "%-22s %11.2fx %13.2fx\n" "libevent / runtime" "$(echo "$cm / $rm_" | bc -l)" "$(echo "$cu / $ru" | bc -l)"

# Starts "$@" on CPU 0; sets $pid and $port.
start_server() {
    local name=$1; shift
    taskset -c 0 "$@" > "$tmp/$name.out" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/$name.out" | head -1)
        [ -n "$port" ] && return 0
        sleep 0.05
    done
    echo "$name did not start:"; cat "$tmp/$name.out"; exit 1
}

client=target/release/examples/rpc-client
measure() { # name
    local name=$1
    taskset -c 1 "$client" --addr "127.0.0.1:$port" --count 2000 > /dev/null # warm-up
    read -r ut0 st0 < <(awk '{print $14, $15}' /proc/$pid/stat)
    local t0 t1
    t0=$(date +%s.%N)
    taskset -c 1 "$client" --addr "127.0.0.1:$port" --count "$calls" > "$tmp/$name.client"
    t1=$(date +%s.%N)
    read -r ut1 st1 < <(awk '{print $14, $15}' /proc/$pid/stat)
    grep -q " 0 failed" "$tmp/$name.client" || { cat "$tmp/$name.client"; exit 1; }
    local scalls=$((calls / 4))
    strace -c -f -p "$pid" -o "$tmp/$name.strace" 2> /dev/null &
    local spid=$!
    sleep 0.5
    taskset -c 1 "$client" --addr "127.0.0.1:$port" --count "$scalls" > /dev/null
    sleep 0.2
    kill -INT "$spid"; wait "$spid" 2> /dev/null || true
    local sys
    sys=$(awk '/total$/ {print $(NF-2)}' "$tmp/$name.strace" | tail -1)
    awk -v n="$name" -v c="$calls" -v t0="$t0" -v t1="$t1" -v u="$((ut1 - ut0))" \
        -v s="$((st1 - st0))" -v tck="$tck" -v sys="${sys:-0}" -v sc="$scalls" 'BEGIN {
        printf "%-22s %10.0f %10.2f %10.2f %10.2f %10.2f\n", n, c / (t1 - t0),
            u * 1e6 / tck / c, s * 1e6 / tck / c, (u + s) * 1e6 / tck / c, sys / sc
        printf "%f %f %f\n", c / (t1 - t0), (u + s) * 1e6 / tck / c, sys / sc > "/dev/stderr" }' \
        2>> "$tmp/nums"
}

echo
echo "== RPC round trips, one keep-alive connection, $calls sequential calls (server CPU 0, client CPU 1)"
printf "%-22s %10s %10s %10s %10s %10s\n" "server" "calls/s" "user us" "sys us" "cpu us" "syscalls"
start_server rpc-server target/release/examples/rpc-server --addr 127.0.0.1:0
measure runtime-rpc
kill "$pid"
start_server evrpc "$tmp/evrpc_peer" server
measure "libevent-evrpc"
kill "$pid"
awk 'NR == 1 {r1 = $1; c1 = $2; s1 = $3} NR == 2 {r2 = $1; c2 = $2; s2 = $3} END {
    printf "%-22s %10.2f %32.2f %10.2f\n", "libevent / runtime", r2 / r1, c2 / c1, (s1 > 0 ? s2 / s1 : 0) }' "$tmp/nums"
