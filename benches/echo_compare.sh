#!/usr/bin/env bash
# Echo server comparison: runtime (examples/echo.rs, single-threaded and
# sharded over 2 workers) vs tokio (current_thread, multi_thread with 2
# workers: peers/src/bin/tokio_echo.rs) vs libevent bufferevents
# (peers/libevent/echo_bufferevent.c), with two library-free C servers as
# bounds: the cheapest epoll loop (peers/raw/echo_epoll.c) and an io_uring
# loop (peers/raw/echo_uring.c; skipped when liburing is not installed).
#
# 1. Throughput: for each connection count, each server is started pinned
#    (single-threaded ones on --server-cpu, multi-threaded ones on
#    --multi-cpus) and the load generator (peers/src/bin/echo_load.rs,
#    pinned on --load-cpu) runs ping-pong on every connection (send a
#    --size byte message, wait for its echo, repeat) for --duration seconds;
#    the table gives messages echoed per second and the ratio to tokio
#    current_thread (higher is better), and a second table the server's
#    CPU time per echoed message (user = its own code, sys = the kernel),
#    read from /proc/PID/stat over the measured window.
#    With --server-quota PCT the servers run in a cgroup limited to PCT% of
#    one CPU, so the server, not the load generator, is the bottleneck and
#    throughput measures the server's cost per message.
# 2. Memory per idle connection: each server is started, its VmRSS read
#    from /proc/PID/status, then --idle connections are opened and held by
#    `echo_load --idle`, and VmRSS read again once the server holds them all.
#
# Usage: benches/echo_compare.sh [options]
#
#   --conns "C1 C2 ..."   connection counts for the throughput runs (default "50 1000")
#   --duration SECS       measured seconds per throughput run (default 5)
#   --size BYTES          message size (default 64)
#   --runs K              runs per server and connection count, interleaved; the median
#                         is shown (default 3)
#   --idle N              idle connections for the memory measurement (default 10000; 0 skips it)
#   --server-cpu LIST     taskset CPU list for single-threaded servers (default 0)
#   --multi-cpus LIST     taskset CPU list for 2-thread servers (default 0,1)
#   --load-cpu LIST       taskset CPU list for the load generator (default 1)
#   --server-quota PCT    limit each server to PCT% of one CPU (cgroup cpu controller,
#                         v1 or v2; needs root). Default: no limit
#   --no-pin              run everything unpinned
#   --skip-build          use the binaries already built
#   -h, --help            this text
#
# On a 2-CPU machine the 2-thread servers share --load-cpu with the load
# generator, so their rows measure overhead, not scaling. Installs nothing:
# needs gcc, pkg-config and libevent's headers (Debian: apt-get install -y
# libevent-dev pkg-config) and taskset (util-linux); liburing-dev for the
# io_uring row.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

CONNS_LIST="50 1000"
DURATION=5
SIZE=64
RUNS=3
IDLE=10000
SERVER_CPU=0
MULTI_CPUS=0,1
LOAD_CPU=1
PIN=1
SKIP_BUILD=0
QUOTA=""

while [[ $# -gt 0 ]]; do
    case "$1" in
        --conns) CONNS_LIST="${2:?--conns needs a value}"; shift 2 ;;
        --duration) DURATION="${2:?--duration needs a value}"; shift 2 ;;
        --size) SIZE="${2:?--size needs a value}"; shift 2 ;;
        --runs) RUNS="${2:?--runs needs a value}"; shift 2 ;;
        --idle) IDLE="${2:?--idle needs a value}"; shift 2 ;;
        --server-cpu) SERVER_CPU="${2:?--server-cpu needs a value}"; shift 2 ;;
        --multi-cpus) MULTI_CPUS="${2:?--multi-cpus needs a value}"; shift 2 ;;
        --load-cpu) LOAD_CPU="${2:?--load-cpu needs a value}"; shift 2 ;;
        --server-quota) QUOTA="${2:?--server-quota needs a value}"; shift 2 ;;
        --no-pin) PIN=0; shift ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "echo_compare.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "echo_compare.sh: --runs must be a positive integer" >&2; exit 2; }
[[ "$IDLE" =~ ^[0-9]+$ ]] || { echo "echo_compare.sh: --idle must be a number" >&2; exit 2; }
[[ -z "$QUOTA" || "$QUOTA" =~ ^[1-9][0-9]*$ ]] || { echo "echo_compare.sh: --server-quota must be a positive integer" >&2; exit 2; }

if [[ $PIN -eq 1 ]] && ! command -v taskset >/dev/null 2>&1; then
    echo "echo_compare.sh: taskset not found (Debian: util-linux); running unpinned" >&2
    PIN=0
fi

# Servers and clients hold thousands of descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

ROOT_TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PEERS_TARGET="${CARGO_TARGET_DIR:-$ROOT/peers/target}"
RUNTIME_BIN="$ROOT_TARGET/release/examples/echo"
TOKIO_BIN="$PEERS_TARGET/release/tokio_echo"
LOAD_BIN="$PEERS_TARGET/release/echo_load"
LIBEVENT_BIN="$ROOT/peers/target/echo_bufferevent"
EPOLL_BIN="$ROOT/peers/target/echo_epoll"
URING_BIN="$ROOT/peers/target/echo_uring"

# ---------------------------------------------------------------- build ----
if [[ $SKIP_BUILD -eq 0 ]]; then
    if ! pkg-config --exists libevent 2>/dev/null; then
        echo "echo_compare.sh: libevent not found by pkg-config." >&2
        echo "  hint: apt-get update && apt-get install -y libevent-dev pkg-config" >&2
        exit 1
    fi
    mkdir -p "$ROOT/peers/target"
    echo "building: echo_bufferevent (gcc -O2, libevent $(pkg-config --modversion libevent))" >&2
    # shellcheck disable=SC2046  # pkg-config output must word-split
    gcc -O2 -o "$LIBEVENT_BIN" "$ROOT/peers/libevent/echo_bufferevent.c" $(pkg-config --cflags --libs libevent)
    echo "building: echo_epoll (gcc -O2)" >&2
    gcc -O2 -o "$EPOLL_BIN" "$ROOT/peers/raw/echo_epoll.c"
    if pkg-config --exists liburing 2>/dev/null; then
        echo "building: echo_uring (gcc -O2, liburing $(pkg-config --modversion liburing))" >&2
        # shellcheck disable=SC2046  # pkg-config output must word-split
        gcc -O2 -o "$URING_BIN" "$ROOT/peers/raw/echo_uring.c" $(pkg-config --cflags --libs liburing)
    else
        echo "echo_compare.sh: liburing not found (apt-get install -y liburing-dev); no io_uring row" >&2
        rm -f "$URING_BIN"
    fi
    echo "building: runtime example echo (cargo build --release --example echo)" >&2
    cargo build --release --quiet --example echo
    echo "building: peers echo_load, tokio_echo (cargo build --release)" >&2
    (cd "$ROOT/peers" && cargo build --release --quiet --bin echo_load --bin tokio_echo)
fi
for bin in "$RUNTIME_BIN" "$TOKIO_BIN" "$LOAD_BIN" "$LIBEVENT_BIN" "$EPOLL_BIN"; do
    [[ -x "$bin" ]] || { echo "echo_compare.sh: $bin is missing (build it or drop --skip-build)" >&2; exit 1; }
done

# -------------------------------------------------------------- helpers ----
# name | command | cpu list (tokio current_thread first: the baseline)
NAMES=("tokio current" "tokio multi 2" "runtime 1 thread" "runtime 2 workers" "libevent" "C epoll (bound)")
CMDS=(
    "$TOKIO_BIN --flavor current"
    "$TOKIO_BIN --flavor multi --threads 2"
    "$RUNTIME_BIN --threads 1"
    "$RUNTIME_BIN --threads 2"
    "$LIBEVENT_BIN"
    "$EPOLL_BIN"
)
CPUS=("$SERVER_CPU" "$MULTI_CPUS" "$SERVER_CPU" "$MULTI_CPUS" "$SERVER_CPU" "$SERVER_CPU")
if [[ -x "$URING_BIN" ]]; then
    NAMES+=("C io_uring")
    CMDS+=("$URING_BIN")
    CPUS+=("$SERVER_CPU")
fi

TMP="$(mktemp -d)"
SERVER_PID=""
SERVER_SHELL=""
SERVER_LOG=""
STARTS=0
CLIENT_PID=""
CGROUP=""
cleanup() {
    [[ -n "$CLIENT_PID" ]] && kill -KILL "$CLIENT_PID" 2>/dev/null || true
    [[ -n "$SERVER_PID" ]] && kill -KILL "$SERVER_PID" 2>/dev/null || true
    # A server whose first line was not read yet: the child of its subshell.
    [[ -n "$SERVER_SHELL" ]] && pkill -KILL -P "$SERVER_SHELL" 2>/dev/null || true
    [[ -n "$CGROUP" ]] && { sleep 0.2; rmdir "$CGROUP" 2>/dev/null || true; }
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "echo_compare.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# --server-quota: a cgroup limited to QUOTA% of one CPU (10 ms periods),
# cgroup v1's cpu controller or v2's; sets CGROUP to its directory.
make_quota_cgroup() {
    local v1 dir
    for v1 in /sys/fs/cgroup/cpu /sys/fs/cgroup/cpu,cpuacct; do
        if [[ -f "$v1/cpu.cfs_quota_us" ]]; then
            dir="$v1/echo_compare.$$"
            mkdir "$dir" && echo 10000 >"$dir/cpu.cfs_period_us" &&
                echo $((QUOTA * 100)) >"$dir/cpu.cfs_quota_us" || return 1
            CGROUP="$dir"
            return 0
        fi
    done
    if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
        echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
        dir="/sys/fs/cgroup/echo_compare.$$"
        mkdir "$dir" && echo "$((QUOTA * 100)) 10000" >"$dir/cpu.max" || return 1
        CGROUP="$dir"
        return 0
    fi
    return 1
}
if [[ -n "$QUOTA" ]]; then
    make_quota_cgroup || {
        echo "echo_compare.sh: --server-quota needs a writable cgroup cpu controller (run as root)" >&2
        exit 1
    }
fi

pinned() { # CPU-LIST CMD... : the command, under taskset when pinning
    local cpus="$1"; shift
    if [[ $PIN -eq 1 ]]; then taskset -c "$cpus" "$@"; else "$@"; fi
}

# start_server INDEX: sets SERVER_PID and SERVER_ADDR
start_server() {
    local i="$1" cmd
    read -r -a cmd <<<"${CMDS[$i]}"
    # `pinned` runs in a subshell: the server's own pid comes from its
    # first line ("... listening on ADDR ... pid=PID ...").
    # A fresh log per start, created before the launch, so the wait below
    # never reads the previous server's line.
    STARTS=$((STARTS + 1))
    SERVER_LOG="$TMP/server.$STARTS.log"
    : >"$SERVER_LOG"
    pinned "${CPUS[$i]}" "${cmd[@]}" --addr 127.0.0.1:0 >"$SERVER_LOG" 2>&1 &
    local shell_pid=$!
    SERVER_SHELL="$shell_pid"
    local tries=0
    until grep -q "listening on" "$SERVER_LOG" 2>/dev/null; do
        tries=$((tries + 1))
        if [[ $tries -gt 100 ]] || ! kill -0 "$shell_pid" 2>/dev/null; then
            echo "echo_compare.sh: ${NAMES[$i]} did not start:" >&2
            cat "$SERVER_LOG" >&2
            exit 1
        fi
        sleep 0.1
    done
    SERVER_ADDR="$(awk '/listening on/ { for (k = 1; k < NF; k++) if ($k == "on") { print $(k + 1); exit } }' "$SERVER_LOG")"
    SERVER_PID="$(awk '/listening on/ { for (k = 1; k <= NF; k++) if ($k ~ /^pid=/) { sub(/^pid=/, "", $k); print $k; exit } }' "$SERVER_LOG")"
    if [[ -z "$SERVER_ADDR" || -z "$SERVER_PID" ]]; then
        echo "echo_compare.sh: no address or pid in the first line of ${NAMES[$i]}:" >&2
        cat "$SERVER_LOG" >&2
        exit 1
    fi
    # All of its threads, including workers started before this line.
    [[ -n "$CGROUP" ]] && echo "$SERVER_PID" >"$CGROUP/cgroup.procs"
    return 0
}

stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local tries=0
    while kill -0 "$SERVER_PID" 2>/dev/null && [[ $tries -lt 50 ]]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_SHELL" 2>/dev/null || true
    SERVER_PID=""
    SERVER_SHELL=""
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
        if (NR % 2) printf "%.0f", v[(NR+1)/2]; else printf "%.0f", (v[NR/2]+v[NR/2+1])/2 }'
}

best() { # the largest of the numbers given
    printf '%s\n' "$@" | sort -g | tail -n 1 | awk '{ printf "%.0f", $1 }'
}

median3() { # like median, three decimals
    printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
        if (NR % 2) printf "%.3f", v[(NR+1)/2]; else printf "%.3f", (v[NR/2]+v[NR/2+1])/2 }'
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# ------------------------------------------------------------ throughput ----
declare -A TPUT=() BEST=() USER_US=() SYS_US=() CPU_PCT=()
if [[ -n "${CONNS_LIST// /}" ]]; then
    pin_note="unpinned"
    [[ $PIN -eq 1 ]] && pin_note="servers on CPU $SERVER_CPU (2-thread servers on $MULTI_CPUS), load on CPU $LOAD_CPU"
    [[ -n "$QUOTA" ]] && pin_note+=", servers limited to $QUOTA% of one CPU"
    echo "echo throughput: ping-pong, $SIZE-byte messages, ${DURATION} s per run, $RUNS run(s), $pin_note" >&2
    declare -A RUNS_OF=() USER_OF=() SYS_OF=() PCT_OF=()
    for conns in $CONNS_LIST; do
        # Runs alternate the order of the servers (forward, then reversed),
        # so a burst of noise from elsewhere does not hit one server only.
        for ((r = 0; r < RUNS; r++)); do
            order=()
            for ((i = 0; i < ${#NAMES[@]}; i++)); do order+=("$i"); done
            if ((r % 2 == 1)); then
                order=()
                for ((i = ${#NAMES[@]} - 1; i >= 0; i--)); do order+=("$i"); done
            fi
            for i in "${order[@]}"; do
                start_server "$i"
                out="$(pinned "$LOAD_CPU" "$LOAD_BIN" --addr "$SERVER_ADDR" --conns "$conns" \
                    --size "$SIZE" --duration "$DURATION" --server-pid "$SERVER_PID")" || {
                    echo "echo_compare.sh: echo_load failed against ${NAMES[$i]}" >&2
                    cat "$SERVER_LOG" >&2
                    exit 1
                }
                stop_server
                [[ "$out" =~ msgs_per_sec=([0-9.]+) ]] || { echo "echo_compare.sh: no result: $out" >&2; exit 1; }
                RUNS_OF["$i,$conns"]+="${BASH_REMATCH[1]} "
                [[ "$out" =~ server_cpu_pct=([0-9.]+)\ server_user_us_per_msg=([0-9.]+)\ server_sys_us_per_msg=([0-9.]+) ]] || {
                    echo "echo_compare.sh: no server CPU figures: $out" >&2
                    exit 1
                }
                PCT_OF["$i,$conns"]+="${BASH_REMATCH[1]} "
                USER_OF["$i,$conns"]+="${BASH_REMATCH[2]} "
                SYS_OF["$i,$conns"]+="${BASH_REMATCH[3]} "
                echo "  ${NAMES[$i]} conns=$conns: $out" >&2
            done
        done
        for ((i = 0; i < ${#NAMES[@]}; i++)); do
            # shellcheck disable=SC2086  # the run list splits on purpose
            TPUT["$i,$conns"]="$(median ${RUNS_OF["$i,$conns"]})"
            # shellcheck disable=SC2086
            BEST["$i,$conns"]="$(best ${RUNS_OF["$i,$conns"]})"
            # shellcheck disable=SC2086
            USER_US["$i,$conns"]="$(median3 ${USER_OF["$i,$conns"]})"
            # shellcheck disable=SC2086
            SYS_US["$i,$conns"]="$(median3 ${SYS_OF["$i,$conns"]})"
            # shellcheck disable=SC2086
            CPU_PCT["$i,$conns"]="$(median ${PCT_OF["$i,$conns"]})"
        done
    done
fi

# ---------------------------------------------------------------- memory ----
declare -A MEM_BEFORE=() MEM_AFTER=()
if [[ "$IDLE" -gt 0 ]]; then
    echo "memory: $IDLE idle connections per server" >&2
    for ((i = 0; i < ${#NAMES[@]}; i++)); do
        start_server "$i"
        sleep 0.5
        before="$(rss_kib "$SERVER_PID")"
        : >"$TMP/client.log"
        "$LOAD_BIN" --addr "$SERVER_ADDR" --idle "$IDLE" --hold 300 >"$TMP/client.log" 2>&1 &
        CLIENT_PID=$!
        tries=0
        # Wait until the client has connected and the server holds them all.
        until grep -q "connected=" "$TMP/client.log" 2>/dev/null &&
            [[ "$(ls "/proc/$SERVER_PID/fd" | wc -l)" -ge "$IDLE" ]]; do
            tries=$((tries + 1))
            if [[ $tries -gt 600 ]] || ! kill -0 "$CLIENT_PID" 2>/dev/null; then
                echo "echo_compare.sh: ${NAMES[$i]}: $IDLE idle connections not established" >&2
                cat "$TMP/client.log" "$SERVER_LOG" >&2
                exit 1
            fi
            sleep 0.1
        done
        sleep 1
        after="$(rss_kib "$SERVER_PID")"
        kill -KILL "$CLIENT_PID" 2>/dev/null || true
        wait "$CLIENT_PID" 2>/dev/null || true
        CLIENT_PID=""
        stop_server
        MEM_BEFORE[$i]="$before"
        MEM_AFTER[$i]="$after"
        echo "  ${NAMES[$i]}: VmRSS $before KiB -> $after KiB" >&2
    done
fi

# ----------------------------------------------------------------- table ----
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }

if [[ -n "${CONNS_LIST// /}" ]]; then
    echo
    runs_note=""
    [[ $RUNS -gt 1 ]] && runs_note=", median of $RUNS runs"
    echo "echo throughput, messages/s (ping-pong, $SIZE B, ${DURATION} s$runs_note); ratio vs tokio current_thread"
    [[ $RUNS -gt 1 ]] && echo "(best = the fastest run: this machine has slow phases that hit whichever server runs then)"
    printf '  %-20s' "server"
    for conns in $CONNS_LIST; do
        printf ' %14s %7s' "conns=$conns" "ratio"
        [[ $RUNS -gt 1 ]] && printf ' %9s %7s' "best" "ratio"
    done
    echo
    for ((i = 0; i < ${#NAMES[@]}; i++)); do
        printf '  %-20s' "${NAMES[$i]}"
        for conns in $CONNS_LIST; do
            v="${TPUT["$i,$conns"]}" b="${BEST["$i,$conns"]}"
            printf ' %14s %7s' "$v" "$(ratio "$v" "${TPUT["0,$conns"]}")"
            [[ $RUNS -gt 1 ]] && printf ' %9s %7s' "$b" "$(ratio "$b" "${BEST["0,$conns"]}")"
        done
        echo
    done
    echo
    echo "server CPU per echoed message, µs (user = its own code, sys = kernel; medians); CPU% of one core"
    printf '  %-20s' "server"
    for conns in $CONNS_LIST; do printf ' %8s %8s %8s %6s' "user" "sys" "total" "cpu%"; done
    echo
    for ((i = 0; i < ${#NAMES[@]}; i++)); do
        printf '  %-20s' "${NAMES[$i]}"
        for conns in $CONNS_LIST; do
            u="${USER_US["$i,$conns"]}" sy="${SYS_US["$i,$conns"]}"
            printf ' %8s %8s %8s %6s' "$u" "$sy" "$(awk -v a="$u" -v b="$sy" 'BEGIN { printf "%.3f", a + b }')" "${CPU_PCT["$i,$conns"]}"
        done
        echo
    done
    echo "  (columns repeat per connection count: $CONNS_LIST)"
fi

if [[ "$IDLE" -gt 0 ]]; then
    echo
    echo "memory per idle connection ($IDLE connections; server VmRSS before and after)"
    printf '  %-20s %12s %12s %10s %9s\n' "server" "RSS before" "RSS after" "KiB/conn" "ratio"
    base="$(awk -v a="${MEM_AFTER[0]}" -v b="${MEM_BEFORE[0]}" -v n="$IDLE" 'BEGIN { printf "%.3f", (a - b) / n }')"
    for ((i = 0; i < ${#NAMES[@]}; i++)); do
        per="$(awk -v a="${MEM_AFTER[$i]}" -v b="${MEM_BEFORE[$i]}" -v n="$IDLE" 'BEGIN { printf "%.3f", (a - b) / n }')"
        printf '  %-20s %9s KiB %9s KiB %10s %9s\n' "${NAMES[$i]}" "${MEM_BEFORE[$i]}" "${MEM_AFTER[$i]}" "$per" "$(ratio "$per" "$base")"
    done
fi
