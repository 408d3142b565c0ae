#!/usr/bin/env bash
# ROT13 server comparison: the seed's bufferevent server on libevent, the
# runtime's examples/rot13.rs (BufferedStream) and tokio (BufReader lines),
# under the same load (peers/src/bin/rot13_load.rs: many connections, each
# keeping DEPTH lines in flight, every answer checked).
#
# Usage: benches/rot13_compare.sh [options]
#
#   --conns N        connections (default 50)
#   --depth D        lines in flight per connection; repeatable, one table
#                    row group per value (default: 1 and 16)
#   --len L          line length in bytes, newline included (default 64)
#   --secs S         measurement window per run (default 5; after 1 s warm-up)
#   --runs K         runs per server and configuration (default 1); the table
#                    shows the median lines/s
#   --no-pin         do not pin (default: server on CPU 0, load on CPU 1)
#   --skip-build     use the binaries already built
#   -h, --help       this text
#
# Each server runs alone, pinned with `taskset -c 0`; the load generator is
# pinned to CPU 1. Installs nothing: it needs gcc, pkg-config and libevent's
# headers (Debian: apt-get install libevent-dev), and taskset (util-linux).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

CONNS=50
DEPTHS=()
LEN=64
SECS=5
RUNS=1
PIN=1
SKIP_BUILD=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --conns) CONNS="${2:?--conns needs a value}"; shift 2 ;;
        --depth) DEPTHS+=("${2:?--depth needs a value}"); shift 2 ;;
        --len) LEN="${2:?--len needs a value}"; shift 2 ;;
        --secs) SECS="${2:?--secs needs a value}"; shift 2 ;;
        --runs) RUNS="${2:?--runs needs a value}"; shift 2 ;;
        --no-pin) PIN=0; shift ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "rot13_compare.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[[ ${#DEPTHS[@]} -gt 0 ]] || DEPTHS=(1 16)
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "rot13_compare.sh: --runs must be a positive integer" >&2; exit 2; }

ROOT_TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PEERS_TARGET="${CARGO_TARGET_DIR:-$ROOT/peers/target}"
LIBEVENT_BIN="$ROOT/peers/target/rot13_bufferevent"
RUNTIME_BIN="$ROOT_TARGET/release/examples/rot13"
TOKIO_BIN="$PEERS_TARGET/release/tokio_rot13"
LOAD_BIN="$PEERS_TARGET/release/rot13_load"

SERVER_PIN=()
LOAD_PIN=()
if [[ $PIN -eq 1 ]]; then
    if command -v taskset >/dev/null 2>&1; then
        SERVER_PIN=(taskset -c 0)
        LOAD_PIN=(taskset -c 1)
    else
        echo "rot13_compare.sh: taskset not found (Debian: util-linux); running unpinned" >&2
    fi
fi

# ---------------------------------------------------------------- build ----
if [[ $SKIP_BUILD -eq 0 ]]; then
    if ! pkg-config --exists libevent; then
        echo "rot13_compare.sh: libevent not found by pkg-config." >&2
        echo "  hint: apt-get update && apt-get install -y libevent-dev pkg-config" >&2
        exit 1
    fi
    mkdir -p "$ROOT/peers/target"
    echo "building: rot13_bufferevent (gcc -O2, libevent $(pkg-config --modversion libevent))" >&2
    # shellcheck disable=SC2046  # pkg-config output must word-split
    gcc -O2 -o "$LIBEVENT_BIN" "$ROOT/peers/libevent/rot13_bufferevent.c" $(pkg-config --cflags --libs libevent)
    echo "building: runtime example rot13 (cargo build --release --example rot13)" >&2
    cargo build --release --quiet --example rot13
    echo "building: tokio_rot13, rot13_load (peers, cargo build --release)" >&2
    (cd "$ROOT/peers" && cargo build --release --quiet --bin tokio_rot13 --bin rot13_load)
fi
for bin in "$LIBEVENT_BIN" "$RUNTIME_BIN" "$TOKIO_BIN" "$LOAD_BIN"; do
    [[ -x "$bin" ]] || { echo "rot13_compare.sh: $bin is missing (build it or drop --skip-build)" >&2; exit 1; }
done

# ------------------------------------------------------------------ run ----
SERVER_PID=""
stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
trap stop_server EXIT

# run_one NAME DEPTH -> prints lines/s
run_one() {
    local name="$1" depth="$2" bin
    case "$name" in
        libevent) bin="$LIBEVENT_BIN" ;;
        runtime) bin="$RUNTIME_BIN" ;;
        tokio) bin="$TOKIO_BIN" ;;
    esac
    local log
    log="$(mktemp)"
    "${SERVER_PIN[@]}" "$bin" --addr 127.0.0.1:0 >"$log" 2>/dev/null &
    SERVER_PID=$!
    local addr=""
    for _ in $(seq 100); do
        addr="$(awk '/listening on/ { print $4; exit }' "$log")"
        [[ -n "$addr" ]] && break
        sleep 0.05
    done
    rm -f "$log"
    if [[ -z "$addr" ]]; then
        echo "rot13_compare.sh: $name did not start" >&2
        stop_server
        return 1
    fi
    local out line
    if ! out="$("${LOAD_PIN[@]}" "$LOAD_BIN" --addr "$addr" --conns "$CONNS" --depth "$depth" --len "$LEN" --secs "$SECS")"; then
        echo "rot13_compare.sh: load failed against $name" >&2
        echo "$out" >&2
        stop_server
        return 1
    fi
    stop_server
    line="$(grep '^rot13_load ' <<<"$out" | tail -n 1)"
    [[ "$line" =~ lines_per_sec=([0-9.]+) ]] || { echo "rot13_compare.sh: no result from the load" >&2; return 1; }
    echo "${BASH_REMATCH[1]}"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
        if (NR % 2) printf "%.0f", v[(NR+1)/2]; else printf "%.0f", (v[NR/2]+v[NR/2+1])/2 }'
}

IMPLS=(libevent runtime tokio)
echo "rot13 comparison: conns=$CONNS len=$LEN secs=$SECS runs=$RUNS${SERVER_PIN[*]:+, server: ${SERVER_PIN[*]}, load: ${LOAD_PIN[*]}}"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews results)"
for depth in "${DEPTHS[@]}"; do
    declare -A results=()
    for ((run = 0; run < RUNS; run++)); do
        order=("${IMPLS[@]}")
        if ((run % 2 == 1)); then order=(tokio runtime libevent); fi
        for impl in "${order[@]}"; do
            results["$impl"]+="$(run_one "$impl" "$depth") "
        done
    done
    echo
    echo "depth=$depth (lines in flight per connection)"
    printf '  %-10s %14s %12s %10s   %s\n' "server" "lines/s" "vs libevent" "vs tokio" "runs"
    # shellcheck disable=SC2086  # intentional word splitting of the run lists
    base_le="$(median ${results[libevent]})"
    # shellcheck disable=SC2086
    base_tk="$(median ${results[tokio]})"
    for impl in "${IMPLS[@]}"; do
        # shellcheck disable=SC2086
        med="$(median ${results[$impl]})"
        r_le="$(awk -v m="$med" -v b="$base_le" 'BEGIN { if (b > 0) printf "%.2fx", m / b; else print "-" }')"
        r_tk="$(awk -v m="$med" -v b="$base_tk" 'BEGIN { if (b > 0) printf "%.2fx", m / b; else print "-" }')"
        printf '  %-10s %14s %12s %10s   %s\n' "$impl" "$med" "$r_le" "$r_tk" "${results[$impl]% }"
    done
    unset results
done
