#!/usr/bin/env bash
# User-space instructions per request of the hello servers, counted by
# valgrind's callgrind: runtime's http-hello (examples/http_hello.rs,
# --threads 1), hyper 1.x on tokio current-thread
# (peers/src/bin/hyper_hello.rs) and, with --evhttp, libevent's evhttp
# (peers/libevent/http_hello_evhttp.c). Other work on the machine does not
# move these counts (it moves the request rate, and with it how many
# requests one event-loop turn serves), so they compare the servers' own
# code where CPU-time figures are noisy.
#
# Each server runs under `valgrind --tool=callgrind --dump-instr=no`
# pinned on --server-cpu; `wrk -t1 -c CONNS -d DURATION` pinned on
# --load-cpu drives it; the total instructions (start-up and shutdown
# included: about 0.4 M, under 0.1% of a run) divided by wrk's request
# count is the figure.
#
# Usage: benches/http_callgrind.sh [options]
#
#   --conns LIST         wrk connection counts, comma-separated (default 1,10,50)
#   --duration SECS      wrk seconds per run (default 8)
#   --evhttp             also the evhttp server
#   --cache-sim          also simulate the caches (`--cache-sim=yes`, about 3x
#                        slower) and print each server's L1 data read and write
#                        misses per request (the kernel's work between requests
#                        is not simulated: a lower bound of what evicts)
#   --server-cpu N       CPU for the server (default 1)
#   --load-cpu N         CPU for wrk (default 0)
#   --skip-build         use the binaries already built
#   -h, --help           this text
#
# Needs valgrind, wrk, taskset (and gcc, pkg-config, libevent's
# headers with --evhttp). Installs nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

CONNS_LIST="1,10,50"
DURATION=8
EVHTTP=0
CACHE_SIM=0
SERVER_CPU=1
LOAD_CPU=0
SKIP_BUILD=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --conns) CONNS_LIST="${2:?--conns needs a value}"; shift 2 ;;
        --duration) DURATION="${2:?--duration needs a value}"; shift 2 ;;
        --evhttp) EVHTTP=1; shift ;;
        --cache-sim) CACHE_SIM=1; shift ;;
        --server-cpu) SERVER_CPU="${2:?--server-cpu needs a value}"; shift 2 ;;
        --load-cpu) LOAD_CPU="${2:?--load-cpu needs a value}"; shift 2 ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "http_callgrind.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 ]] || { echo "http_callgrind.sh: --duration must be a positive number" >&2; exit 2; }
for tool in valgrind callgrind_annotate wrk taskset; do
    command -v "$tool" >/dev/null 2>&1 || { echo "http_callgrind.sh: $tool not found" >&2; exit 1; }
done

ROOT_TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PEERS_TARGET="${CARGO_TARGET_DIR:-$ROOT/peers/target}"
HELLO_BIN="$ROOT_TARGET/release/examples/http-hello"
HYPER_BIN="$PEERS_TARGET/release/hyper_hello"
EVHTTP_BIN="$ROOT/peers/target/http_hello_evhttp"

if [[ $SKIP_BUILD -eq 0 ]]; then
    echo "building: runtime example http-hello (cargo build --release)" >&2
    cargo build --release --quiet --example http-hello
    echo "building: peers hyper_hello (cargo build --release)" >&2
    (cd "$ROOT/peers" && cargo build --release --quiet --bin hyper_hello)
    if [[ $EVHTTP -eq 1 ]]; then
        mkdir -p "$ROOT/peers/target"
        # shellcheck disable=SC2046  # pkg-config output must word-split
        gcc -O2 -o "$EVHTTP_BIN" "$ROOT/peers/libevent/http_hello_evhttp.c" $(pkg-config --cflags --libs libevent)
    fi
fi
for bin in "$HELLO_BIN" "$HYPER_BIN"; do
    [[ -x "$bin" ]] || { echo "http_callgrind.sh: $bin is missing (build it or drop --skip-build)" >&2; exit 1; }
done
[[ $EVHTTP -eq 0 || -x "$EVHTTP_BIN" ]] || { echo "http_callgrind.sh: $EVHTTP_BIN is missing" >&2; exit 1; }

TMP="$(mktemp -d)"
SCRIPT=http_callgrind.sh
STARTS=0
SERVER_PID=""
SERVER_SHELL=""
# Valgrind takes a few seconds to start a server.
START_TRIES=300
. "$ROOT/benches/lib/server.sh"
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill -KILL "$SERVER_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# measure NAME CONNS CMD...: prints instructions per request.
measure() {
    local name="$1" conns="$2"; shift 2
    local out="$TMP/callgrind.$name.$conns.out"
    local sim=()
    [[ $CACHE_SIM -eq 1 ]] && sim=(--cache-sim=yes)
    start_server "$name" valgrind --tool=callgrind --dump-instr=no "${sim[@]}" \
        --callgrind-out-file="$out" "$@"
    taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" -d"${DURATION}s" "http://$SERVER_ADDR/" >"$TMP/wrk.txt"
    # Ctrl-C: every server exits cleanly on it, and callgrind writes its
    # counts at exit; stop_server's TERM (and KILL) only if it does not.
    kill -INT "$SERVER_PID" 2>/dev/null || true
    local tries=0
    while kill -0 "$SERVER_PID" 2>/dev/null && [[ $tries -lt 100 ]]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    stop_server
    local reqs ir
    reqs="$(awk '/requests in/{print $1}' "$TMP/wrk.txt")"
    ir="$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1; exit}')"
    [[ -n "$reqs" && -n "$ir" && "$reqs" -gt 0 ]] || { echo "http_callgrind.sh: no figures for $name" >&2; exit 1; }
    echo "  $name: $reqs requests, $ir instructions" >&2
    if [[ $CACHE_SIM -eq 1 ]]; then
        # PROGRAM TOTALS: Ir Dr Dw I1mr D1mr D1mw ... (each count followed
        # by its percentage).
        callgrind_annotate "$out" 2>/dev/null | awk -v n="$reqs" -v who="$name" '/PROGRAM TOTALS/ {
            gsub(",", ""); printf "  %s: L1 data misses per request: read %.2f, write %.2f\n", who, $9 / n, $11 / n; exit }' >&2
    fi
    echo $((ir / reqs))
}

printf '\nuser-space instructions per request (callgrind, wrk -t1 -d%ss)\n' "$DURATION"
if [[ $EVHTTP -eq 1 ]]; then
    printf '  %-6s %14s %14s %14s %10s\n' conns runtime hyper evhttp "rt/hyper"
else
    printf '  %-6s %14s %14s %10s\n' conns runtime hyper "rt/hyper"
fi
IFS=',' read -r -a CONNS <<<"$CONNS_LIST"
for c in "${CONNS[@]}"; do
    [[ "$c" =~ ^[0-9]+$ && "$c" -ge 1 ]] || { echo "http_callgrind.sh: bad connection count '$c'" >&2; exit 2; }
    rt="$(measure runtime "$c" "$HELLO_BIN" --threads 1)"
    hy="$(measure hyper "$c" "$HYPER_BIN" --flavor current)"
    ratio="$(awk -v a="$rt" -v b="$hy" 'BEGIN{printf "%.2fx", a/b}')"
    if [[ $EVHTTP -eq 1 ]]; then
        ev="$(measure evhttp "$c" "$EVHTTP_BIN")"
        printf '  %-6s %14s %14s %14s %10s\n' "$c" "$rt" "$hy" "$ev" "$ratio"
    else
        printf '  %-6s %14s %14s %10s\n' "$c" "$rt" "$hy" "$ratio"
    fi
done
