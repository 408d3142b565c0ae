#!/usr/bin/env bash
# HTTP server comparison: runtime's http-hello (examples/http_hello.rs,
# --threads 1) against hyper 1.x on tokio, current-thread and
# multi-thread with 2 workers (peers/src/bin/hyper_hello.rs), and
# libevent's evhttp (peers/libevent/http_hello_evhttp.c), every server
# answering each request "200 Hello, world!\n" with keep-alive. Then the
# static file server (examples/http_server.rs) against the least a server
# can do to send a file (peers/raw/sendfile_epoll.c: epoll + sendfile, no
# parsing).
#
# 1. Hello: each server is started pinned on --server-cpu, wrk pinned on
#    --load-cpu runs `wrk -t1 -c CONNS -d DURATION --latency`; the table
#    gives requests/s, p99 latency, and the server's CPU time per request,
#    user (its own code) and system (the kernel) separately, read from
#    /proc/PID/stat (utime, stime) before and after the run and divided by
#    wrk's request count. wrk saturates its core before a lean server does,
#    so CPU per request is the figure to compare; ratios are to hyper
#    current-thread. Runs alternate the order of the servers; medians.
# 2. Syscalls per request: each server again, `strace -c -f -p PID` for a
#    --strace-duration run of the same wrk load (strace slows everything;
#    the counts per request are what matters).
# 3. Static file: a --file-mib MiB file of random bytes, `wrk -c
#    --file-conns` on each of http-server and sendfile_epoll: MB/s and CPU
#    per request.
#
# Usage: benches/http_compare.sh [options]
#
#   --duration SECS          wrk seconds per hello run (default 10)
#   --conns N                wrk connections for the hello runs (default 50)
#   --runs K                 hello runs per server, alternating order; medians (default 3)
#   --strace-duration SECS   wrk seconds under strace (default 3; 0 skips the syscall table)
#   --file-mib N             size of the static file (default 5)
#   --file-conns N           wrk connections for the static runs (default 4; 0 skips them)
#   --server-cpu LIST        taskset CPU list for the servers (default 1)
#   --load-cpu LIST          taskset CPU list for wrk (default 0)
#   --perf-split             also split each hello run's CPU time into user and
#                            system by perf sampling (see below)
#   --skip-build             use the binaries already built
#   -h, --help               this text
#
# /proc/PID/stat charges each scheduler tick (here 250 per second) wholly
# to user or system time by the mode the tick found the CPU in, so a run's
# user figure is a sample of a few hundred ticks: about +-5% for an 8 s
# run. --perf-split measures the same runs a second way: the server's
# on-CPU time from /proc/PID/task/*/schedstat (exact), split by the share
# of `perf record -e cpu-clock -F 4999` samples that land in user space
# (twenty times the samples). Both columns are printed; perf's sampling
# adds about 1% of kernel time to every server alike.
#
# The 2-worker tokio server runs on --server-cpu too: on a 2-CPU machine
# its row measures the multi-thread runtime's overhead, not scaling.
# Installs nothing: needs wrk, strace, taskset, gcc, pkg-config and
# libevent's headers (Debian: apt-get install -y wrk strace libevent-dev
# pkg-config).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

DURATION=10
CONNS=50
RUNS=3
STRACE_DURATION=3
FILE_MIB=5
FILE_CONNS=4
SERVER_CPU=1
LOAD_CPU=0
SKIP_BUILD=0
PERF_SPLIT=0

while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) DURATION="${2:?--duration needs a value}"; shift 2 ;;
        --conns) CONNS="${2:?--conns needs a value}"; shift 2 ;;
        --runs) RUNS="${2:?--runs needs a value}"; shift 2 ;;
        --strace-duration) STRACE_DURATION="${2:?--strace-duration needs a value}"; shift 2 ;;
        --file-mib) FILE_MIB="${2:?--file-mib needs a value}"; shift 2 ;;
        --file-conns) FILE_CONNS="${2:?--file-conns needs a value}"; shift 2 ;;
        --server-cpu) SERVER_CPU="${2:?--server-cpu needs a value}"; shift 2 ;;
        --load-cpu) LOAD_CPU="${2:?--load-cpu needs a value}"; shift 2 ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        --perf-split) PERF_SPLIT=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "http_compare.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
for v in DURATION CONNS RUNS STRACE_DURATION FILE_MIB FILE_CONNS; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "http_compare.sh: --${v,,} must be a number" >&2; exit 2; }
done
[[ "$RUNS" -ge 1 && "$DURATION" -ge 1 && "$CONNS" -ge 1 ]] || { echo "http_compare.sh: --runs, --duration and --conns must be positive" >&2; exit 2; }
for tool in wrk taskset; do
    command -v "$tool" >/dev/null 2>&1 || { echo "http_compare.sh: $tool not found (Debian: apt-get install -y $tool)" >&2; exit 1; }
done
if [[ $PERF_SPLIT -eq 1 ]] && ! command -v perf >/dev/null 2>&1; then
    echo "http_compare.sh: --perf-split needs perf (Debian: apt-get install -y linux-perf)" >&2
    exit 1
fi
if [[ "$STRACE_DURATION" -gt 0 ]] && ! command -v strace >/dev/null 2>&1; then
    echo "http_compare.sh: strace not found (apt-get install -y strace); no syscall table" >&2
    STRACE_DURATION=0
fi

ROOT_TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PEERS_TARGET="${CARGO_TARGET_DIR:-$ROOT/peers/target}"
HELLO_BIN="$ROOT_TARGET/release/examples/http-hello"
STATIC_BIN="$ROOT_TARGET/release/examples/http-server"
HYPER_BIN="$PEERS_TARGET/release/hyper_hello"
EVHTTP_BIN="$ROOT/peers/target/http_hello_evhttp"
SENDFILE_BIN="$ROOT/peers/target/sendfile_epoll"
TICK="$(getconf CLK_TCK)"

# ---------------------------------------------------------------- build ----
if [[ $SKIP_BUILD -eq 0 ]]; then
    if ! pkg-config --exists libevent 2>/dev/null; then
        echo "http_compare.sh: libevent not found by pkg-config (apt-get install -y libevent-dev pkg-config)" >&2
        exit 1
    fi
    mkdir -p "$ROOT/peers/target"
    echo "building: http_hello_evhttp (gcc -O2, libevent $(pkg-config --modversion libevent))" >&2
    # shellcheck disable=SC2046  # pkg-config output must word-split
    gcc -O2 -o "$EVHTTP_BIN" "$ROOT/peers/libevent/http_hello_evhttp.c" $(pkg-config --cflags --libs libevent)
    echo "building: sendfile_epoll (gcc -O2)" >&2
    gcc -O2 -o "$SENDFILE_BIN" "$ROOT/peers/raw/sendfile_epoll.c"
    echo "building: runtime examples http-hello, http-server (cargo build --release)" >&2
    cargo build --release --quiet --example http-hello --example http-server
    echo "building: peers hyper_hello (cargo build --release)" >&2
    (cd "$ROOT/peers" && cargo build --release --quiet --bin hyper_hello)
fi
for bin in "$HELLO_BIN" "$STATIC_BIN" "$HYPER_BIN" "$EVHTTP_BIN" "$SENDFILE_BIN"; do
    [[ -x "$bin" ]] || { echo "http_compare.sh: $bin is missing (build it or drop --skip-build)" >&2; exit 1; }
done

# -------------------------------------------------------------- helpers ----
TMP="$(mktemp -d)"
SERVER_PID=""
SERVER_SHELL=""
STARTS=0
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill -KILL "$SERVER_PID" 2>/dev/null || true
    [[ -n "$SERVER_SHELL" ]] && pkill -KILL -P "$SERVER_SHELL" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "http_compare.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

SCRIPT=http_compare.sh
. "$ROOT/benches/lib/server.sh"

# run_wrk URL SECS CONNS: sets REQS, RPS, P99_MS, MBPS from wrk's output
run_wrk() {
    local out
    out="$(taskset -c "$LOAD_CPU" wrk -t1 -c "$3" -d "${2}s" --latency "$1")"
    REQS="$(awk '/requests in/ { print $1 }' <<<"$out")"
    RPS="$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")"
    P99_MS="$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } printf "%.2f", v }' <<<"$out")"
    MBPS="$(awk '/^Transfer\/sec/ { v = $2; if (v ~ /GB$/) { sub(/GB$/, "", v); v *= 1024 } else if (v ~ /MB$/) { sub(/MB$/, "", v) } else if (v ~ /KB$/) { sub(/KB$/, "", v); v /= 1024 } printf "%.1f", v }' <<<"$out")"
    if [[ -z "$REQS" || "$REQS" -eq 0 ]]; then
        echo "http_compare.sh: wrk made no requests against $1:" >&2
        echo "$out" >&2
        exit 1
    fi
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
        echo "  (wrk: $(grep "Non-2xx\|Socket errors" <<<"$out" | tr -s ' '))" >&2
    fi
}

# oncpu_ns PID: the process's on-CPU time so far, all threads, in ns
oncpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ t += $1 } END { printf "%.0f\n", t }'; }

# measure NAME URL SECS CONNS CMD...: one run; sets REQS RPS P99_MS MBPS
# USER_US SYS_US, and with PERF=1 PUSER_US PSYS_US (the perf split)
measure() {
    local name="$1" url="$2" secs="$3" conns="$4"; shift 4
    start_server "$name" "$@"
    local u0 s0 u1 s1 c0 c1 perf_pid="" share
    if [[ "${PERF:-0}" -eq 1 ]]; then
        c0="$(oncpu_ns "$SERVER_PID")"
        perf record -q -e cpu-clock -F 4999 -p "$SERVER_PID" -o "$TMP/perf.data" >/dev/null 2>&1 &
        perf_pid=$!
        sleep 0.3
    fi
    read -r u0 s0 < <(cpu_ticks "$SERVER_PID")
    run_wrk "http://$SERVER_ADDR$url" "$secs" "$conns"
    read -r u1 s1 < <(cpu_ticks "$SERVER_PID")
    if [[ -n "$perf_pid" ]]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        c1="$(oncpu_ns "$SERVER_PID")"
        # The share of samples outside the kernel.
        share="$(perf report -i "$TMP/perf.data" --no-children --sort dso -g none --stdio 2>/dev/null |
            awk '/^#/ || NF == 0 { next } { gsub("%", "", $1); if ($2 ~ /kernel/) k += $1; else u += $1 }
                 END { if (u + k > 0) printf "%.5f", u / (u + k); else print 0 }')"
        PUSER_US="$(awk -v d=$((c1 - c0)) -v f="$share" -v n="$REQS" 'BEGIN { printf "%.3f", d / 1000 * f / n }')"
        PSYS_US="$(awk -v d=$((c1 - c0)) -v f="$share" -v n="$REQS" 'BEGIN { printf "%.3f", d / 1000 * (1 - f) / n }')"
    fi
    stop_server
    USER_US="$(awk -v d=$((u1 - u0)) -v t="$TICK" -v n="$REQS" 'BEGIN { printf "%.3f", d * 1e6 / t / n }')"
    SYS_US="$(awk -v d=$((s1 - s0)) -v t="$TICK" -v n="$REQS" 'BEGIN { printf "%.3f", d * 1e6 / t / n }')"
}

median() { # numbers -> their median
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }

# ---------------------------------------------------------------- hello ----
NAMES=("hyper current" "hyper multi 2" "runtime 1 thread" "evhttp")
CMDS=(
    "$HYPER_BIN --flavor current"
    "$HYPER_BIN --flavor multi --threads 2"
    "$HELLO_BIN --threads 1"
    "$EVHTTP_BIN"
)
declare -A RPS_OF=() P99_OF=() USER_OF=() SYS_OF=() PUSER_OF=() PSYS_OF=()
echo "hello: wrk -t1 -c$CONNS -d${DURATION}s --latency on CPU $LOAD_CPU, servers on CPU $SERVER_CPU, $RUNS run(s)" >&2
for ((r = 0; r < RUNS; r++)); do
    order=()
    for ((i = 0; i < ${#NAMES[@]}; i++)); do order+=("$i"); done
    if ((r % 2 == 1)); then
        order=()
        for ((i = ${#NAMES[@]} - 1; i >= 0; i--)); do order+=("$i"); done
    fi
    for i in "${order[@]}"; do
        read -r -a cmd <<<"${CMDS[$i]}"
        PERF=$PERF_SPLIT measure "${NAMES[$i]}" / "$DURATION" "$CONNS" "${cmd[@]}"
        RPS_OF[$i]+="$RPS "
        P99_OF[$i]+="$P99_MS "
        USER_OF[$i]+="$USER_US "
        SYS_OF[$i]+="$SYS_US "
        perf_note=""
        if [[ $PERF_SPLIT -eq 1 ]]; then
            PUSER_OF[$i]+="$PUSER_US "
            PSYS_OF[$i]+="$PSYS_US "
            perf_note=" (perf split: user $PUSER_US, sys $PSYS_US)"
        fi
        echo "  ${NAMES[$i]}: $REQS requests, $RPS req/s, p99 $P99_MS ms, user $USER_US us/req, sys $SYS_US us/req$perf_note" >&2
    done
done

# ------------------------------------------------------------- syscalls ----
declare -A SC_TOTAL=() SC_READ=() SC_WRITE=() SC_WAIT=() SC_CTL=()
if [[ "$STRACE_DURATION" -gt 0 ]]; then
    echo "syscalls: strace -c -f -p PID over wrk -c$CONNS -d${STRACE_DURATION}s" >&2
    for ((i = 0; i < ${#NAMES[@]}; i++)); do
        read -r -a cmd <<<"${CMDS[$i]}"
        start_server "${NAMES[$i]}" "${cmd[@]}"
        strace -c -f -p "$SERVER_PID" -o "$TMP/strace.$i" 2>/dev/null &
        strace_pid=$!
        sleep 0.5
        run_wrk "http://$SERVER_ADDR/" "$STRACE_DURATION" "$CONNS"
        sleep 0.3
        kill -INT "$strace_pid" 2>/dev/null || true
        wait "$strace_pid" 2>/dev/null || true
        stop_server
        # % time, seconds, usecs/call, calls, [errors], syscall
        read -r total rd wr wt ctl < <(awk '
            $1 ~ /^[0-9.]+$/ && NF >= 5 {
                name = $NF; calls = $4
                if (name == "total") { total = calls; next }
                if (name ~ /^(read|readv|recvfrom|recvmsg)$/) rd += calls
                else if (name ~ /^(write|writev|sendto|sendmsg|sendfile)$/) wr += calls
                else if (name ~ /^epoll_(wait|pwait|pwait2)$/) wt += calls
                else if (name == "epoll_ctl") ctl += calls
            }
            END { printf "%d %d %d %d %d\n", total, rd, wr, wt, ctl }' "$TMP/strace.$i")
        per() { awk -v a="$1" -v n="$REQS" 'BEGIN { printf "%.2f", a / n }'; }
        SC_TOTAL[$i]="$(per "$total")"
        SC_READ[$i]="$(per "$rd")"
        SC_WRITE[$i]="$(per "$wr")"
        SC_WAIT[$i]="$(per "$wt")"
        SC_CTL[$i]="$(per "$ctl")"
        echo "  ${NAMES[$i]}: $REQS requests, $total syscalls (read $rd, write $wr, epoll wait $wt, epoll_ctl $ctl)" >&2
    done
fi

# --------------------------------------------------------------- static ----
SNAMES=("sendfile_epoll (bound)" "runtime http-server")
declare -A S_MBPS=() S_RPS=() S_USER=() S_SYS=()
if [[ "$FILE_CONNS" -gt 0 ]]; then
    mkdir -p "$TMP/root"
    head -c "$((FILE_MIB * 1024 * 1024))" /dev/urandom >"$TMP/root/file.bin"
    SCMDS=(
        "$SENDFILE_BIN --file $TMP/root/file.bin"
        "$STATIC_BIN --threads 1 --root $TMP/root"
    )
    echo "static: a ${FILE_MIB} MiB file, wrk -t1 -c$FILE_CONNS -d${DURATION}s, $RUNS run(s)" >&2
    for ((r = 0; r < RUNS; r++)); do
        for i in 0 1; do
            ((r % 2 == 1)) && i=$((1 - i))
            read -r -a cmd <<<"${SCMDS[$i]}"
            measure "${SNAMES[$i]}" /file.bin "$DURATION" "$FILE_CONNS" "${cmd[@]}"
            S_MBPS[$i]+="$MBPS "
            S_RPS[$i]+="$RPS "
            S_USER[$i]+="$USER_US "
            S_SYS[$i]+="$SYS_US "
            echo "  ${SNAMES[$i]}: $REQS requests, $MBPS MB/s, user $USER_US us/req, sys $SYS_US us/req" >&2
        done
    done
fi

# ----------------------------------------------------------------- table ----
echo
runs_note=""
[[ $RUNS -gt 1 ]] && runs_note=", medians of $RUNS runs"
echo "hello, world over keep-alive (wrk -t1 -c$CONNS -d${DURATION}s; server CPU per request in us$runs_note)"
printf '  %-18s %10s %9s %8s %8s %8s %9s %9s\n' "server" "req/s" "p99 ms" "user" "sys" "total" "user/hyp" "total/hyp"
# shellcheck disable=SC2086  # the run lists split on purpose
{
    base_u="$(median ${USER_OF[0]})"
    base_t="$(awk -v a="$base_u" -v b="$(median ${SYS_OF[0]})" 'BEGIN { print a + b }')"
    for ((i = 0; i < ${#NAMES[@]}; i++)); do
        u="$(median ${USER_OF[$i]})"
        s="$(median ${SYS_OF[$i]})"
        t="$(awk -v a="$u" -v b="$s" 'BEGIN { printf "%.3f", a + b }')"
        printf '  %-18s %10.0f %9s %8s %8s %8s %9s %9s\n' "${NAMES[$i]}" "$(median ${RPS_OF[$i]})" \
            "$(median ${P99_OF[$i]})" "$u" "$s" "$t" "$(ratio "$u" "$base_u")" "$(ratio "$t" "$base_t")"
    done
}
if [[ $PERF_SPLIT -eq 1 ]]; then
    echo
    echo "the same runs, CPU per request split by perf samples (on-CPU time from schedstat; us$runs_note)"
    printf '  %-18s %8s %8s %8s %9s\n' "server" "user" "sys" "total" "user/hyp"
    # shellcheck disable=SC2086
    {
        base_pu="$(median ${PUSER_OF[0]})"
        for ((i = 0; i < ${#NAMES[@]}; i++)); do
            u="$(median ${PUSER_OF[$i]})"
            s="$(median ${PSYS_OF[$i]})"
            printf '  %-18s %8s %8s %8s %9s\n' "${NAMES[$i]}" "$u" "$s" \
                "$(awk -v a="$u" -v b="$s" 'BEGIN { printf "%.3f", a + b }')" "$(ratio "$u" "$base_pu")"
        done
    }
fi
if [[ "$STRACE_DURATION" -gt 0 ]]; then
    echo
    echo "system calls per request (strace -c -f, wrk -c$CONNS -d${STRACE_DURATION}s)"
    printf '  %-18s %8s %8s %8s %10s %10s\n' "server" "total" "read" "write" "epoll wait" "epoll_ctl"
    for ((i = 0; i < ${#NAMES[@]}; i++)); do
        printf '  %-18s %8s %8s %8s %10s %10s\n' "${NAMES[$i]}" "${SC_TOTAL[$i]}" "${SC_READ[$i]}" \
            "${SC_WRITE[$i]}" "${SC_WAIT[$i]}" "${SC_CTL[$i]}"
    done
fi
if [[ "$FILE_CONNS" -gt 0 ]]; then
    echo
    echo "static ${FILE_MIB} MiB file (wrk -t1 -c$FILE_CONNS -d${DURATION}s; server CPU per request in us$runs_note)"
    printf '  %-24s %9s %8s %10s %10s %10s\n' "server" "MB/s" "req/s" "user" "sys" "total/bound"
    # shellcheck disable=SC2086
    {
        bt="$(awk -v a="$(median ${S_USER[0]})" -v b="$(median ${S_SYS[0]})" 'BEGIN { print a + b }')"
        for i in 0 1; do
            u="$(median ${S_USER[$i]})"
            s="$(median ${S_SYS[$i]})"
            printf '  %-24s %9s %8s %10s %10s %10s\n' "${SNAMES[$i]}" "$(median ${S_MBPS[$i]})" \
                "$(median ${S_RPS[$i]})" "$u" "$s" "$(ratio "$(awk -v a="$u" -v b="$s" 'BEGIN { print a + b }')" "$bt")"
        done
    }
fi
