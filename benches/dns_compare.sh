#!/usr/bin/env bash
# DNS comparison, one run, printed as ratios (see BENCHMARKS.md):
#   1. server: queries/s answered by examples/dns-server and by dnsmasq from
#      the same hosts file (1000 names), measured with dnsperf; the server
#      pinned to one core, dnsperf to another.
#   2. resolver: A lookups with 100 in flight against the same local
#      dns-server, caches off: this runtime's Resolver, hickory-resolver
#      (tokio current-thread) and libevent's evdns (a small C program); each
#      client pinned to one core, the three run in turn ROUNDS times. For
#      each: lookups/s, the client's CPU time per lookup (user + system, from
#      `perf stat`, else GNU time) and its system calls per lookup
#      (`perf stat -e raw_syscalls:sys_enter`); medians over the rounds.
#      CPU and system calls per lookup are the robust figures on a shared
#      machine; lookups/s moves with the load.
#   3. cache-hit latency: a lookup answered from the resolver's cache
#      (runtime vs hickory; evdns has no cache).
#
# Needs: apt-get install dnsmasq-base dnsperf libevent-dev (and perf for the
# system-call counts); a release build (done here). Knobs: SECS (dnsperf
# seconds, 5), N (lookups per resolver run, 100000), C (in flight, 100),
# ROUNDS (3), SERVER_CPU (0), CLIENT_CPU (1).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}
N=${N:-100000}
C=${C:-100}
ROUNDS=${ROUNDS:-3}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)

cargo build --release --quiet --example dns-server
(cd peers && cargo build --release --quiet --bin dns_resolve)
mkdir -p peers/target
gcc -O2 -o peers/target/dns_resolve_evdns peers/libevent/dns_resolve_evdns.c \
    $(pkg-config --cflags --libs libevent)

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

for i in $(seq 0 999); do
    echo "10.$((i / 250)).$((i % 250)).1 host$i.test"
    echo "host$i.test A" >> "$tmp/queries"
done > "$tmp/hosts"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_dns_server() {
    taskset -c "$SERVER_CPU" target/release/examples/dns-server --addr 127.0.0.1:0 \
        --hosts "$tmp/hosts" > "$tmp/server.out" &
    pids+=($!)
    for _ in $(seq 100); do
        port=$(grep -o '127.0.0.1:[0-9]*' "$tmp/server.out" 2>/dev/null | cut -d: -f2 || true)
        [ -n "$port" ] && return
        sleep 0.05
    done
    echo "dns-server did not start" >&2; exit 1
}

dnsperf_qps() { # PORT
    taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$1" -d "$tmp/queries" -l "$SECS" -c 1 -T 1 -q 200 2>&1 \
        | awk '/Queries per second:/ {print int($4)}'
}

start_dns_server
ours_port=$port
ours_qps=$(dnsperf_qps "$ours_port")

dm_port=$(free_port)
taskset -c "$SERVER_CPU" "$DNSMASQ" --no-daemon --port="$dm_port" --listen-address=127.0.0.1 \
    --bind-interfaces --no-resolv --no-hosts --conf-file=/dev/null --addn-hosts="$tmp/hosts" \
    --local=/test/ --user=root --pid-file= 2> "$tmp/dnsmasq.err" &
dm_pid=$!
pids+=($dm_pid)
sleep 0.5
dm_qps=$(dnsperf_qps "$dm_port")
kill "$dm_pid" 2>/dev/null || true

# One resolver run under perf stat (or GNU time): prints
# "qps=Q cpu_us=C user_us=U sys_us=S syscalls=K" (per lookup).
PERF=0
perf stat -e raw_syscalls:sys_enter -o /dev/null true 2>/dev/null && PERF=1
measure() { # IMPL
    local line out="$tmp/measure.out"
    case "$1" in
        evdns) set -- peers/target/dns_resolve_evdns "127.0.0.1:$ours_port" host1.test "$N" "$C" ;;
        *) set -- peers/target/release/dns_resolve --impl "$1" \
               --server "127.0.0.1:$ours_port" --name host1.test. -n "$N" -c "$C" ;;
    esac
    if [ "$PERF" = 1 ]; then
        line=$(perf stat -e raw_syscalls:sys_enter -o "$out" taskset -c "$CLIENT_CPU" "$@")
        awk -v line="$line" -v n="$N" '
            /raw_syscalls:sys_enter/ { gsub(",", "", $1); calls = $1 }
            / seconds user/ { user = $1 }
            / seconds sys/ { sys = $1 }
            END {
                split(line, f, " "); for (i in f) if (f[i] ~ /^qps=/) q = substr(f[i], 5)
                printf "qps=%s cpu_us=%.2f user_us=%.2f sys_us=%.2f syscalls=%.2f\n",
                    q, (user + sys) * 1e6 / n, user * 1e6 / n, sys * 1e6 / n, calls / n
            }' "$out"
    else
        line=$(/usr/bin/time -f "%U %S" -o "$out" taskset -c "$CLIENT_CPU" "$@")
        awk -v line="$line" -v n="$N" '
            { user = $1; sys = $2 }
            END {
                split(line, f, " "); for (i in f) if (f[i] ~ /^qps=/) q = substr(f[i], 5)
                printf "qps=%s cpu_us=%.2f user_us=%.2f sys_us=%.2f syscalls=n/a\n",
                    q, (user + sys) * 1e6 / n, user * 1e6 / n, sys * 1e6 / n
            }' "$out"
    fi
}

field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }
median() { grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A runs
for r in $(seq "$ROUNDS"); do
    for impl in runtime hickory evdns; do
        runs[$impl]+="$(measure "$impl")"$'\n'
    done
done
med() { # IMPL FIELD
    echo -n "${runs[$1]}" | while read -r l; do field "$l" "$2"; done | median
}

rt_hit=$(taskset -c "$CLIENT_CPU" peers/target/release/dns_resolve --impl runtime \
    --server "127.0.0.1:$ours_port" --name host1.test. --cache-hits 200000)
hk_hit=$(taskset -c "$CLIENT_CPU" peers/target/release/dns_resolve --impl hickory \
    --server "127.0.0.1:$ours_port" --name host1.test. --cache-hits 200000)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "server (dnsperf, ${SECS}s, 1000 names; server on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU)"
echo "  dns-server  $ours_qps q/s"
echo "  dnsmasq     $dm_qps q/s"
echo "  ratio dns-server/dnsmasq = $(ratio "$ours_qps" "$dm_qps")"
echo "resolver ($N A lookups, $C in flight, caches off, against dns-server; client on CPU $CLIENT_CPU; median of $ROUNDS rounds)"
printf "  %-8s %10s %12s %10s %10s %14s\n" impl "lookups/s" "CPU us/look" "user us" "sys us" "syscalls/look"
for impl in runtime hickory evdns; do
    printf "  %-8s %10s %12s %10s %10s %14s\n" "$impl" "$(med $impl qps)" "$(med $impl cpu_us)" \
        "$(med $impl user_us)" "$(med $impl sys_us)" "$(med $impl syscalls)"
done
for impl in runtime hickory evdns; do
    echo -n "${runs[$impl]}" | sed "s/^/    $impl round: /"
done
echo "  ratios runtime/hickory: lookups/s $(ratio "$(med runtime qps)" "$(med hickory qps)"), CPU per lookup $(ratio "$(med runtime cpu_us)" "$(med hickory cpu_us)"), syscalls per lookup $(ratio "$(med runtime syscalls)" "$(med hickory syscalls)")"
echo "  ratios runtime/evdns:   lookups/s $(ratio "$(med runtime qps)" "$(med evdns qps)"), CPU per lookup $(ratio "$(med runtime cpu_us)" "$(med evdns cpu_us)"), syscalls per lookup $(ratio "$(med runtime syscalls)" "$(med evdns syscalls)")"
echo "cache hit"
echo "  runtime  $rt_hit"
echo "  hickory  $hk_hit"
echo "  ratio hickory/runtime (time per hit) = $(ratio "$(field "$hk_hit" ns_per_hit)" "$(field "$rt_hit" ns_per_hit)")"
