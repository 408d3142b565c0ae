#!/usr/bin/env bash
# Memory per idle keep-alive connection: runtime's http-hello
# (examples/http_hello.rs --threads 1) against hyper 1.x on tokio
# current-thread (peers/src/bin/hyper_hello.rs). Each server is started
# alone; a client opens N connections to it, sends one request on each and
# reads its answer, and leaves them all open and idle; the server's VmRSS
# (/proc/PID/status) before the connections and with them, divided by N,
# is the figure. Kernel socket memory is not in RSS: this is the server's
# own memory per waiting connection.
#
# Usage: benches/http_idle_memory.sh [options]
#
#   --conns N        idle connections (default 2000)
#   --server-cpu N   CPU for the server (default 1)
#   --skip-build     use the binaries already built
#   -h, --help       this text
#
# Needs python3 (the client) and taskset. Installs nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SCRIPT=http_idle_memory.sh

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

CONNS=2000
SERVER_CPU=1
SKIP_BUILD=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --conns) CONNS="${2:?--conns needs a value}"; shift 2 ;;
        --server-cpu) SERVER_CPU="${2:?--server-cpu needs a value}"; shift 2 ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "$SCRIPT: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[[ "$CONNS" =~ ^[0-9]+$ && "$CONNS" -ge 1 ]] || { echo "$SCRIPT: --conns must be a positive number" >&2; exit 2; }
for tool in python3 taskset; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$SCRIPT: $tool not found" >&2; exit 1; }
done

ROOT_TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PEERS_TARGET="${CARGO_TARGET_DIR:-$ROOT/peers/target}"
HELLO_BIN="$ROOT_TARGET/release/examples/http-hello"
HYPER_BIN="$PEERS_TARGET/release/hyper_hello"
if [[ $SKIP_BUILD -eq 0 ]]; then
    echo "building: http-hello (cargo build --release), hyper_hello (peers)" >&2
    cargo build --release --quiet --example http-hello
    (cd "$ROOT/peers" && cargo build --release --quiet --bin hyper_hello)
fi
for bin in "$HELLO_BIN" "$HYPER_BIN"; do
    [[ -x "$bin" ]] || { echo "$SCRIPT: $bin is missing (build it or drop --skip-build)" >&2; exit 1; }
done
# Room for the client's and the server's descriptors.
ulimit -n "$((CONNS + 1024))"

TMP="$(mktemp -d)"
SERVER_PID=""
SERVER_SHELL=""
STARTS=0
trap '[[ -n "$SERVER_PID" ]] && kill -KILL "$SERVER_PID" 2>/dev/null; rm -rf "$TMP"' EXIT
# shellcheck source=benches/lib/server.sh
. "$ROOT/benches/lib/server.sh"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

measure() {
    local name="$1"; shift
    start_server "$name" "$@"
    local before after
    before="$(rss_kib "$SERVER_PID")"
    # The client holds the connections open until told to close them.
    mkfifo "$TMP/go"
    python3 - "$SERVER_ADDR" "$CONNS" "$TMP/go" >"$TMP/client.out" <<'PY' &
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
n, go = int(sys.argv[2]), sys.argv[3]
socks = []
for _ in range(n):
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    socks.append(s)
for s in socks:
    got = b""
    while not got.endswith(b"Hello, world!\n"):
        b = s.recv(4096)
        if not b:
            sys.exit("connection closed")
        got += b
print("ready", flush=True)
open(go).read()
PY
    local client=$!
    until grep -q ready "$TMP/client.out" 2>/dev/null; do
        kill -0 "$client" 2>/dev/null || { echo "$SCRIPT: client failed against $name" >&2; exit 1; }
        sleep 0.1
    done
    sleep 0.3
    after="$(rss_kib "$SERVER_PID")"
    echo > "$TMP/go"
    wait "$client"
    rm -f "$TMP/go" "$TMP/client.out"
    stop_server
    printf '  %-28s %8d KiB %10d KiB %12d B\n' "$name" "$before" "$after" "$(( (after - before) * 1024 / CONNS ))"
}

echo "idle keep-alive connections: $CONNS, each after one request (VmRSS of the server)"
printf '  %-28s %12s %14s %14s\n' server "RSS before" "RSS with them" "per conn"
measure "runtime http-hello" "$HELLO_BIN" --threads 1
measure "hyper current-thread" "$HYPER_BIN" --flavor current
