#!/usr/bin/env bash
# TLS comparison: runtime-tls (futures-rustls) against tokio-rustls, both
# on rustls 0.23 with the ring provider, the same certificates (an EC P-256
# CA and a localhost leaf made here with openssl) and the same suite:
# TLS 1.3, TLS13_AES_128_GCM_SHA256, X25519 — forced by the clients (the
# only suite and group they offer), checked from the handshakes.
#
# 1. Handshakes: tls_server_runtime (peers/src/bin/tls_server_runtime.rs,
#    runtime's TlsAcceptor) and tls_server_tokio (tokio-rustls, current
#    thread) pinned on --server-cpu; tls_load (tokio-rustls client) pinned
#    on --load-cpu runs --hs-conns loops of: connect, full handshake (no
#    resumption), one byte echoed, close_notify, close. Handshakes/s and
#    the server's CPU per handshake (user and system from /proc/PID/stat).
# 2. Bulk on one connection: tls_load uploads (the server decrypts and
#    drops) and downloads (the server encrypts) --chunk-mib MiB commands
#    for --duration seconds. MB/s and the server's CPU per MB (10^6 bytes).
# 3. HTTPS hello: runtime's http-hello --threads 1 --tls-cert --tls-key
#    against hyper_hello --flavor current --tls-cert --tls-key (hyper 1 on
#    tokio-rustls), wrk -t1 -c--wrk-conns over keep-alive (wrk's OpenSSL
#    forced to the same suite and group through OPENSSL_CONF). Requests/s,
#    p99 and the server's CPU per request; then system calls per request
#    (strace -c -f -p PID for --strace-duration seconds).
#
# Runs alternate the order of the two peers; the table gives medians and
# ratios runtime/tokio (CPU: lower is better; rates: higher is better).
#
# Usage: benches/tls_compare.sh [options]
#
#   --duration SECS          seconds per run of each kind (default 5)
#   --runs K                 runs per peer and kind, alternating order; medians (default 3)
#   --hs-conns N             concurrent handshake loops of the client (default 4)
#   --chunk-mib N            MiB per bulk command (default 16)
#   --wrk-conns N            wrk connections for HTTPS hello (default 50)
#   --strace-duration SECS   wrk seconds under strace (default 3; 0 skips the syscall table)
#   --server-cpu LIST        taskset CPU list for the servers (default 1)
#   --load-cpu LIST          taskset CPU list for the clients (default 0)
#   --skip-build             use the binaries already built
#   -h, --help               this text
#
# Installs nothing: needs openssl, wrk, taskset (and strace for the
# syscall table). Debian: apt-get install -y openssl wrk strace.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

DURATION=5
RUNS=3
HS_CONNS=4
CHUNK_MIB=16
WRK_CONNS=50
STRACE_DURATION=3
SERVER_CPU=1
LOAD_CPU=0
SKIP_BUILD=0

while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) DURATION="${2:?--duration needs a value}"; shift 2 ;;
        --runs) RUNS="${2:?--runs needs a value}"; shift 2 ;;
        --hs-conns) HS_CONNS="${2:?--hs-conns needs a value}"; shift 2 ;;
        --chunk-mib) CHUNK_MIB="${2:?--chunk-mib needs a value}"; shift 2 ;;
        --wrk-conns) WRK_CONNS="${2:?--wrk-conns needs a value}"; shift 2 ;;
        --strace-duration) STRACE_DURATION="${2:?--strace-duration needs a value}"; shift 2 ;;
        --server-cpu) SERVER_CPU="${2:?--server-cpu needs a value}"; shift 2 ;;
        --load-cpu) LOAD_CPU="${2:?--load-cpu needs a value}"; shift 2 ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "tls_compare.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
for v in DURATION RUNS HS_CONNS CHUNK_MIB WRK_CONNS STRACE_DURATION; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "tls_compare.sh: --${v,,} must be a number" >&2; exit 2; }
done
for v in DURATION RUNS HS_CONNS CHUNK_MIB WRK_CONNS; do
    [[ "${!v}" -ge 1 ]] || { echo "tls_compare.sh: --${v,,} must be positive" >&2; exit 2; }
done
for tool in openssl wrk taskset; do
    command -v "$tool" >/dev/null 2>&1 || { echo "tls_compare.sh: $tool not found (Debian: apt-get install -y $tool)" >&2; exit 1; }
done
if [[ "$STRACE_DURATION" -gt 0 ]] && ! command -v strace >/dev/null 2>&1; then
    echo "tls_compare.sh: strace not found (apt-get install -y strace); no syscall table" >&2
    STRACE_DURATION=0
fi

ROOT_TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PEERS_TARGET="${CARGO_TARGET_DIR:-$ROOT/peers/target}"
HELLO_BIN="$ROOT_TARGET/release/examples/http-hello"
RT_BIN="$PEERS_TARGET/release/tls_server_runtime"
TOKIO_BIN="$PEERS_TARGET/release/tls_server_tokio"
LOAD_BIN="$PEERS_TARGET/release/tls_load"
HYPER_BIN="$PEERS_TARGET/release/hyper_hello"
TICK="$(getconf CLK_TCK)"

# ---------------------------------------------------------------- build ----
if [[ $SKIP_BUILD -eq 0 ]]; then
    echo "building: runtime example http-hello (cargo build --release)" >&2
    cargo build --release --quiet --example http-hello
    echo "building: peers tls_server_runtime, tls_server_tokio, tls_load, hyper_hello (cargo build --release)" >&2
    (cd "$ROOT/peers" && cargo build --release --quiet --bin tls_server_runtime --bin tls_server_tokio \
        --bin tls_load --bin hyper_hello)
fi
for bin in "$HELLO_BIN" "$RT_BIN" "$TOKIO_BIN" "$LOAD_BIN" "$HYPER_BIN"; do
    [[ -x "$bin" ]] || { echo "tls_compare.sh: $bin is missing (build it or drop --skip-build)" >&2; exit 1; }
done

# -------------------------------------------------------------- helpers ----
TMP="$(mktemp -d)"
SERVER_PID=""
SERVER_SHELL=""
STARTS=0
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill -KILL "$SERVER_PID" 2>/dev/null || true
    [[ -n "$SERVER_SHELL" ]] && kill -KILL "$SERVER_SHELL" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "tls_compare.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# --------------------------------------------------------- certificates ----
# A CA and a leaf for localhost / 127.0.0.1, EC P-256 keys (ECDSA
# signatures in the handshakes), valid two days.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TMP/ca.key" -out "$TMP/ca.pem" -days 2 -subj "/CN=tls_compare CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TMP/server.key" -out "$TMP/server.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >"$TMP/ext.cnf"
openssl x509 -req -in "$TMP/server.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
    -out "$TMP/server.pem" -days 2 -extfile "$TMP/ext.cnf" 2>/dev/null
CERT="$TMP/server.pem"
KEY="$TMP/server.key"
# wrk's (and openssl s_client's) OpenSSL offers only the suite and group.
cat >"$TMP/openssl.cnf" <<'EOF'
openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1.3
Ciphersuites = TLS_AES_128_GCM_SHA256
Groups = X25519
EOF

SCRIPT=tls_compare.sh
. "$ROOT/benches/lib/server.sh"

# per_op TICKS COUNT SCALE -> microseconds of CPU per (COUNT / SCALE) ops
per_op() { awk -v d="$1" -v t="$TICK" -v n="$2" -v s="$3" 'BEGIN { printf "%.2f", d * 1e6 / t / (n / s) }'; }

# measure_load NAME MODE CMD...: one tls_load run against CMD; sets
# COUNT (handshakes or bytes), SECS, NOTE (suite and group), U_TICKS, S_TICKS
measure_load() {
    local name="$1" mode="$2"; shift 2
    start_server "$name" "$@"
    local u0 s0 u1 s1 out
    read -r u0 s0 < <(cpu_ticks "$SERVER_PID")
    out="$(taskset -c "$LOAD_CPU" "$LOAD_BIN" --addr "$SERVER_ADDR" --ca "$TMP/ca.pem" --mode "$mode" \
        --duration "$DURATION" --conns "$HS_CONNS" --chunk-mib "$CHUNK_MIB")"
    read -r u1 s1 < <(cpu_ticks "$SERVER_PID")
    stop_server
    COUNT="$(sed -n 's/^\(handshakes\|bytes\)=\([0-9]*\).*/\2/p' <<<"$out")"
    SECS="$(sed -n 's/.* secs=\([0-9.]*\).*/\1/p' <<<"$out")"
    NOTE="$(sed -n 's/.*\(suite=.*\)/\1/p' <<<"$out")"
    [[ -n "$COUNT" && "$COUNT" -gt 0 ]] || { echo "tls_compare.sh: tls_load against $name: $out" >&2; exit 1; }
    U_TICKS=$((u1 - u0))
    S_TICKS=$((s1 - s0))
}

# run_wrk URL SECS CONNS: sets REQS, RPS, P99_MS from wrk's output
run_wrk() {
    local out
    out="$(OPENSSL_CONF="$TMP/openssl.cnf" taskset -c "$LOAD_CPU" wrk -t1 -c "$3" -d "${2}s" --latency "$1")"
    REQS="$(awk '/requests in/ { print $1 }' <<<"$out")"
    RPS="$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")"
    P99_MS="$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } printf "%.2f", v }' <<<"$out")"
    if [[ -z "$REQS" || "$REQS" -eq 0 ]]; then
        echo "tls_compare.sh: wrk made no requests against $1:" >&2
        echo "$out" >&2
        exit 1
    fi
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
        echo "  (wrk: $(grep "Non-2xx\|Socket errors" <<<"$out" | tr -s ' '))" >&2
    fi
}

median() { # numbers -> their median
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
sum() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }

# order R N: 0..N-1, reversed on odd runs
order() { local r="$1" n="$2" i; if ((r % 2 == 0)); then for ((i = 0; i < n; i++)); do echo "$i"; done; else for ((i = n - 1; i >= 0; i--)); do echo "$i"; done; fi; }

# ------------------------------------------------- handshakes and bulk ----
NAMES=("runtime-tls" "tokio-rustls")
CMDS=(
    "$RT_BIN --cert $CERT --key $KEY"
    "$TOKIO_BIN --cert $CERT --key $KEY"
)
MODES=(handshake upload download)
declare -A RATE=() USER=() SYS=() NOTES=()
for mode in "${MODES[@]}"; do
    echo "$mode: tls_load on CPU $LOAD_CPU, servers on CPU $SERVER_CPU, ${DURATION}s x $RUNS run(s)" >&2
    for ((r = 0; r < RUNS; r++)); do
        for i in $(order "$r" 2); do
            read -r -a cmd <<<"${CMDS[$i]}"
            measure_load "${NAMES[$i]}" "$mode" "${cmd[@]}"
            if [[ $mode == handshake ]]; then
                rate="$(awk -v n="$COUNT" -v s="$SECS" 'BEGIN { printf "%.0f", n / s }')"
                u="$(per_op "$U_TICKS" "$COUNT" 1)"
                s="$(per_op "$S_TICKS" "$COUNT" 1)"
                unit="handshakes/s, us/handshake"
            else
                rate="$(awk -v n="$COUNT" -v s="$SECS" 'BEGIN { printf "%.1f", n / s / 1e6 }')"
                u="$(per_op "$U_TICKS" "$COUNT" 1e6)"
                s="$(per_op "$S_TICKS" "$COUNT" 1e6)"
                unit="MB/s, us/MB"
            fi
            RATE[$mode.$i]+="$rate "
            USER[$mode.$i]+="$u "
            SYS[$mode.$i]+="$s "
            NOTES[$i]="$NOTE"
            echo "  ${NAMES[$i]}: $rate (user $u, sys $s) $unit; $NOTE" >&2
        done
    done
done

# ---------------------------------------------------------- HTTPS hello ----
HNAMES=("runtime http-hello" "hyper+tokio-rustls")
HCMDS=(
    "$HELLO_BIN --threads 1 --tls-cert $CERT --tls-key $KEY"
    "$HYPER_BIN --flavor current --tls-cert $CERT --tls-key $KEY"
)
declare -A H_RPS=() H_P99=() H_USER=() H_SYS=() H_NOTE=()
echo "https hello: wrk -t1 -c$WRK_CONNS -d${DURATION}s on CPU $LOAD_CPU, servers on CPU $SERVER_CPU, $RUNS run(s)" >&2
for ((i = 0; i < 2; i++)); do
    read -r -a cmd <<<"${HCMDS[$i]}"
    start_server "${HNAMES[$i]}" "${cmd[@]}"
    H_NOTE[$i]="$(OPENSSL_CONF="$TMP/openssl.cnf" openssl s_client -connect "$SERVER_ADDR" -servername localhost \
        -CAfile "$TMP/ca.pem" </dev/null 2>/dev/null | awk '/Cipher is/ { c = $NF } /Temp Key/ { k = $4 } END { print c, k }' | tr -d ',')"
    stop_server
done
for ((r = 0; r < RUNS; r++)); do
    for i in $(order "$r" 2); do
        read -r -a cmd <<<"${HCMDS[$i]}"
        start_server "${HNAMES[$i]}" "${cmd[@]}"
        read -r u0 s0 < <(cpu_ticks "$SERVER_PID")
        run_wrk "https://$SERVER_ADDR/" "$DURATION" "$WRK_CONNS"
        read -r u1 s1 < <(cpu_ticks "$SERVER_PID")
        stop_server
        u="$(per_op $((u1 - u0)) "$REQS" 1)"
        s="$(per_op $((s1 - s0)) "$REQS" 1)"
        H_RPS[$i]+="$RPS "
        H_P99[$i]+="$P99_MS "
        H_USER[$i]+="$u "
        H_SYS[$i]+="$s "
        echo "  ${HNAMES[$i]}: $REQS requests, $RPS req/s, p99 $P99_MS ms, user $u us/req, sys $s us/req" >&2
    done
done

declare -A SC_TOTAL=() SC_READ=() SC_WRITE=() SC_WAIT=()
if [[ "$STRACE_DURATION" -gt 0 ]]; then
    echo "syscalls: strace -c -f -p PID over wrk -c$WRK_CONNS -d${STRACE_DURATION}s" >&2
    for ((i = 0; i < 2; i++)); do
        read -r -a cmd <<<"${HCMDS[$i]}"
        start_server "${HNAMES[$i]}" "${cmd[@]}"
        strace -c -f -p "$SERVER_PID" -o "$TMP/strace.$i" 2>/dev/null &
        strace_pid=$!
        sleep 0.5
        run_wrk "https://$SERVER_ADDR/" "$STRACE_DURATION" "$WRK_CONNS"
        sleep 0.3
        kill -INT "$strace_pid" 2>/dev/null || true
        wait "$strace_pid" 2>/dev/null || true
        stop_server
        read -r total rd wr wt < <(awk '
            $1 ~ /^[0-9.]+$/ && NF >= 5 {
                name = $NF; calls = $4
                if (name == "total") { total = calls; next }
                if (name ~ /^(read|readv|recvfrom|recvmsg)$/) rd += calls
                else if (name ~ /^(write|writev|sendto|sendmsg)$/) wr += calls
                else if (name ~ /^epoll_(wait|pwait|pwait2)$/) wt += calls
            }
            END { printf "%d %d %d %d\n", total, rd, wr, wt }' "$TMP/strace.$i")
        per() { awk -v a="$1" -v n="$REQS" 'BEGIN { printf "%.2f", a / n }'; }
        SC_TOTAL[$i]="$(per "$total")"
        SC_READ[$i]="$(per "$rd")"
        SC_WRITE[$i]="$(per "$wr")"
        SC_WAIT[$i]="$(per "$wt")"
        echo "  ${HNAMES[$i]}: $REQS requests, $total syscalls (read $rd, write $wr, epoll wait $wt)" >&2
    done
fi

# ----------------------------------------------------------------- table ----
runs_note=""
[[ $RUNS -gt 1 ]] && runs_note=", medians of $RUNS runs"
echo
echo "negotiated: runtime-tls ${NOTES[0]}; tokio-rustls ${NOTES[1]}"
echo "            wrk/openssl: http-hello ${H_NOTE[0]}; hyper ${H_NOTE[1]}"
echo
echo "TLS server on one core (server CPU = user + sys${runs_note}; ratio runtime/tokio)"
printf '  %-32s %30s %30s %7s\n' "" "runtime-tls" "tokio-rustls" "ratio"
# shellcheck disable=SC2086  # the run lists split on purpose
for mode in "${MODES[@]}"; do
    case $mode in
        handshake) what="handshakes/s (-c$HS_CONNS)"; cpu="us/handshake" ;;
        upload) what="upload MB/s (server decrypts)"; cpu="us/MB" ;;
        download) what="download MB/s (server encrypts)"; cpu="us/MB" ;;
    esac
    r0="$(median ${RATE[$mode.0]})"; r1="$(median ${RATE[$mode.1]})"
    u0="$(median ${USER[$mode.0]})"; s0="$(median ${SYS[$mode.0]})"
    u1="$(median ${USER[$mode.1]})"; s1="$(median ${SYS[$mode.1]})"
    c0="$(sum "$u0" "$s0")"; c1="$(sum "$u1" "$s1")"
    printf '  %-32s %30s %30s %7s\n' "$what" "$r0" "$r1" "$(ratio "$r0" "$r1")"
    printf '  %-32s %30s %30s %7s\n' "  server CPU $cpu" "$c0 ($u0 u + $s0 s)" "$c1 ($u1 u + $s1 s)" "$(ratio "$c0" "$c1")"
done
echo
echo "HTTPS hello over keep-alive (wrk -t1 -c$WRK_CONNS -d${DURATION}s; server CPU per request in us${runs_note})"
printf '  %-22s %10s %9s %8s %8s %8s %12s\n' "server" "req/s" "p99 ms" "user" "sys" "total" "total/hyper"
# shellcheck disable=SC2086
{
    bt="$(sum "$(median ${H_USER[1]})" "$(median ${H_SYS[1]})")"
    for i in 0 1; do
        u="$(median ${H_USER[$i]})"
        s="$(median ${H_SYS[$i]})"
        t="$(sum "$u" "$s")"
        printf '  %-22s %10.0f %9s %8s %8s %8s %12s\n' "${HNAMES[$i]}" "$(median ${H_RPS[$i]})" \
            "$(median ${H_P99[$i]})" "$u" "$s" "$t" "$(ratio "$t" "$bt")"
    done
}
if [[ "$STRACE_DURATION" -gt 0 ]]; then
    echo
    echo "system calls per HTTPS request (strace -c -f, wrk -c$WRK_CONNS -d${STRACE_DURATION}s)"
    printf '  %-22s %8s %8s %8s %10s\n' "server" "total" "read" "write" "epoll wait"
    for i in 0 1; do
        printf '  %-22s %8s %8s %8s %10s\n' "${HNAMES[$i]}" "${SC_TOTAL[$i]}" "${SC_READ[$i]}" \
            "${SC_WRITE[$i]}" "${SC_WAIT[$i]}"
    done
fi
