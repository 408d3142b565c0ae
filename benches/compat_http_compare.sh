#!/usr/bin/env bash
# What the evhttp shape of the callback layer costs: the same hello server
# written three ways — runtime-http's Server (examples/http_hello.rs,
# --threads 1), the evhttp-shaped callbacks over that server
# (examples/compat_http_hello.rs), and libevent's evhttp itself (a C program
# with evhttp_set_gencb + evhttp_send_reply, given with --evhttp BIN) — each
# pinned on --server-cpu while wrk, pinned on --load-cpu, keeps 50
# keep-alive connections busy. For each server, runs interleaved:
#   - requests/s and p99 latency (wrk; noisy on a shared machine),
#   - the server's CPU time per request, user and system, from
#     /proc/PID/stat (utime, stime) over the measured window,
#   - system calls per request, from `strace -c -f -p PID` during a separate
#     bounded wrk run (strace slows the server; the count per request holds).
#
# Usage: benches/compat_http_compare.sh [--duration SECS] [--runs K]
#            [--evhttp BIN] [--server-cpu N] [--load-cpu N] [--skip-build]
# Needs wrk and strace. Every server listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10
runs=2
evhttp=""
server_cpu=0
load_cpu=1
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) duration=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --evhttp) evhttp=$2; shift 2 ;;
        --server-cpu) server_cpu=$2; shift 2 ;;
        --load-cpu) load_cpu=$2; shift 2 ;;
        --skip-build) build=0; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
if [ "$build" = 1 ]; then
    cargo build --release --example http-hello --example compat_http_hello
fi
tck=$(getconf CLK_TCK)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# measure NAME PORT CMD... : one run, one result line.
measure() {
    local name=$1 port=$2; shift 2
    taskset -c "$server_cpu" "$@" > "$tmp/$name.out" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do
        grep -q "listening on" "$tmp/$name.out" 2>/dev/null && break
        sleep 0.05
    done
    local url=http://127.0.0.1:$port/
    taskset -c "$load_cpu" wrk -t1 -c50 -d2s "$url" > /dev/null
    local ut0 st0 ut1 st1
    read -r ut0 st0 < <(awk '{print $14, $15}' /proc/$pid/stat)
    local out
    out=$(taskset -c "$load_cpu" wrk -t1 -c50 -d"${duration}s" --latency "$url")
    read -r ut1 st1 < <(awk '{print $14, $15}' /proc/$pid/stat)
    strace -c -f -p "$pid" -o "$tmp/$name.strace" 2> /dev/null &
    local spid=$!
    sleep 0.3
    local sout
    sout=$(taskset -c "$load_cpu" wrk -t1 -c50 -d3s "$url")
    kill -INT "$spid"; wait "$spid" 2> /dev/null || true
    kill -INT "$pid"; wait "$pid" || true
    local reqs rps p99 sreqs calls
    reqs=$(awk '/requests in/ {print $1}' <<< "$out")
    rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
    p99=$(awk '/ 99%/ {print $2}' <<< "$out")
    sreqs=$(awk '/requests in/ {print $1}' <<< "$sout")
    calls=$(awk '/total$/ {print $(NF-2)}' "$tmp/$name.strace" | tail -1)
    awk -v n="$name" -v r="$reqs" -v rps="$rps" -v p99="$p99" -v u=$((ut1 - ut0)) \
        -v s=$((st1 - st0)) -v t="$tck" -v c="$calls" -v sr="$sreqs" 'BEGIN {
        printf "%-18s %10s %9s %8.2f %8.2f %8.2f %8.2f\n", n, rps, p99,
            u / t / r * 1e6, s / t / r * 1e6, (u + s) / t / r * 1e6, c / sr }'
}

printf "%-18s %10s %9s %8s %8s %8s %8s\n" server "req/s" p99 "user us" "sys us" "total us" "sys/req"
for run in $(seq "$runs"); do
    measure http-hello 18181 target/release/examples/http-hello --addr 127.0.0.1:18181 --threads 1
    measure compat_http_hello 18182 target/release/examples/compat_http_hello --addr 127.0.0.1:18182
    if [ -n "$evhttp" ]; then
        measure evhttp 18183 "$evhttp" --addr 127.0.0.1:18183
    fi
done
