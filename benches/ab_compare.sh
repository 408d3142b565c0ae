#!/usr/bin/env bash
# Before/after comparison of this runtime against an older revision of itself,
# side by side in one run: the pipe ring (examples/pipebench, futures and
# callback APIs), the echo server (examples/echo under peers' echo_load, with
# the server's CPU per message from /proc) and the ROT13 line server
# (examples/rot13 under peers' rot13_load).
#
# Usage: benches/ab_compare.sh [--base REV] [--runs K] [--secs S] [--skip-build]
#
#   --base REV     the "before" revision (default: 1ef022f, the foundation
#                  before issue 9); built in a git worktree at target/ab-base
#   --runs K       alternating runs per benchmark and build (default 5)
#   --secs S       seconds per echo / ROT13 run (default 4)
#   --skip-build   use the binaries already built
#   -h, --help     this text
#
# Servers are pinned to CPU 0 and load generators to CPU 1 (taskset);
# pipebench runs on CPU 1. Runs alternate before/after. Prints medians and
# after/before ratios (pipebench µs/round and CPU per message: lower is
# better; messages and lines per second: higher is better).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

BASE=1ef022f
RUNS=5
SECS=4
SKIP_BUILD=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --base) BASE="${2:?--base needs a revision}"; shift 2 ;;
        --runs) RUNS="${2:?--runs needs a value}"; shift 2 ;;
        --secs) SECS="${2:?--secs needs a value}"; shift 2 ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "ab_compare.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "ab_compare.sh: --runs must be a positive integer" >&2; exit 2; }

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BASE_DIR="$TARGET/ab-base"
EXAMPLES=(--example pipebench --example echo --example rot13)
if [[ $SKIP_BUILD -eq 0 ]]; then
    if [[ -e "$BASE_DIR/.git" ]]; then
        git -C "$BASE_DIR" checkout -q --detach "$BASE"
    else
        git worktree add -q --detach "$BASE_DIR" "$BASE"
    fi
    echo "building: before ($BASE), after (working tree), peers' load generators" >&2
    (cd "$BASE_DIR" && CARGO_TARGET_DIR="$BASE_DIR/target" cargo build --release --quiet "${EXAMPLES[@]}")
    cargo build --release --quiet "${EXAMPLES[@]}"
    (cd "$ROOT/peers" && cargo build --release --quiet --bin echo_load --bin rot13_load)
fi
BEFORE="$BASE_DIR/target/release/examples"
AFTER="$TARGET/release/examples"
PEERS="${CARGO_TARGET_DIR:-$ROOT/peers/target}/release"

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
dir_of() { if [[ $1 == before ]]; then echo "$BEFORE"; else echo "$AFTER"; fi; }

# Pipe ring: N A ROUNDS.
for cfg in "100 1 200" "1000 100 30"; do
    read -r n a r <<<"$cfg"
    for api in futures callbacks; do
        for _ in $(seq "$RUNS"); do
            for side in before after; do
                taskset -c 1 "$(dir_of $side)/pipebench" -n "$n" -a "$a" -r "$r" --api "$api" \
                    | field usec_per_round >>"$TMP/pipe-$n-$a-$api-$side"
            done
        done
    done
done

# Echo: 64-byte ping-pong, 50 connections.
PORT=17878
for _ in $(seq "$RUNS"); do
    for side in before after; do
        taskset -c 0 "$(dir_of $side)/echo" --addr "127.0.0.1:$PORT" >/dev/null 2>&1 &
        pid=$!
        wait_port $PORT
        out=$(taskset -c 1 "$PEERS/echo_load" --addr "127.0.0.1:$PORT" --conns 50 --duration "$SECS" --server-pid "$pid")
        kill -INT $pid; wait $pid 2>/dev/null || true
        echo "$out" | field msgs_per_sec >>"$TMP/echo-rate-$side"
        echo "$out" | field server_user_us_per_msg >>"$TMP/echo-user-$side"
        echo "$out" | field server_sys_us_per_msg >>"$TMP/echo-sys-$side"
    done
done

# ROT13: 50 connections, 64-byte lines, 1 and 16 lines in flight each.
PORT=17713
for depth in 1 16; do
    for _ in $(seq "$RUNS"); do
        for side in before after; do
            taskset -c 0 "$(dir_of $side)/rot13" --addr "127.0.0.1:$PORT" >/dev/null 2>&1 &
            pid=$!
            wait_port $PORT
            out=$(taskset -c 1 "$PEERS/rot13_load" --addr "127.0.0.1:$PORT" --conns 50 --depth "$depth" --secs "$SECS" --warmup 1)
            kill -INT $pid; wait $pid 2>/dev/null || true
            echo "$out" | field lines_per_sec >>"$TMP/rot13-$depth-$side"
        done
    done
done

row() { # LABEL FILE-PREFIX
    local b a
    b=$(median <"$TMP/$2-before"); a=$(median <"$TMP/$2-after")
    printf '| %s | %s | %s | %s |\n' "$1" "$b" "$a" "$(awk -v a="$a" -v b="$b" 'BEGIN {printf (b > 0) ? "%.3f×" : "n/a", a / b}')"
}
echo "| median of $RUNS alternating runs | before ($BASE) | after ($(git rev-parse --short HEAD)) | after/before |"
echo "|---|---|---|---|"
for cfg in "100 1" "1000 100"; do
    read -r n a <<<"$cfg"
    for api in futures callbacks; do
        row "pipebench N=$n A=$a \`--api $api\`, µs/round" "pipe-$n-$a-$api"
    done
done
row "echo, 50 conns, messages/s" echo-rate
row "echo, server user µs/message" echo-user
row "echo, server sys µs/message" echo-sys
row "ROT13, 1 line in flight, lines/s" rot13-1
row "ROT13, 16 lines in flight, lines/s" rot13-16
