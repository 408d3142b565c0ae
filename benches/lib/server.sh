# Shared by the load scripts that start one server at a time (sourced:
# `. "$ROOT/benches/lib/server.sh"`). The caller sets TMP (a scratch
# directory), SERVER_CPU, STARTS=0, SERVER_PID="" and SERVER_SHELL="", and
# SCRIPT (its name, for messages). Servers print "... listening on ADDR ...
# pid=PID" as their first line.

# start_server NAME CMD...: starts CMD --addr 127.0.0.1:0 pinned on
# SERVER_CPU; sets SERVER_PID and SERVER_ADDR from its first line
# ("... listening on ADDR ... pid=PID"). Waits START_TRIES tenths of a
# second at most (default 100).
start_server() {
    local name="$1"; shift
    STARTS=$((STARTS + 1))
    local log="$TMP/server.$STARTS.log"
    : >"$log"
    taskset -c "$SERVER_CPU" "$@" --addr 127.0.0.1:0 >"$log" 2>&1 &
    SERVER_SHELL=$!
    local tries=0
    until grep -q "listening on" "$log" 2>/dev/null; do
        tries=$((tries + 1))
        if [[ $tries -gt ${START_TRIES:-100} ]] || ! kill -0 "$SERVER_SHELL" 2>/dev/null; then
            echo "$SCRIPT: $name did not start:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.1
    done
    SERVER_ADDR="$(awk '/listening on/ { for (k = 1; k < NF; k++) if ($k == "on") { print $(k + 1); exit } }' "$log")"
    SERVER_PID="$(awk '/listening on/ { for (k = 1; k <= NF; k++) if ($k ~ /^pid=/) { sub(/^pid=/, "", $k); print $k; exit } }' "$log")"
    [[ -n "$SERVER_ADDR" && -n "$SERVER_PID" ]] || { echo "$SCRIPT: no address or pid from $name:" >&2; cat "$log" >&2; exit 1; }
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

cpu_ticks() { # PID -> "utime stime" (whole process, all threads)
    awk '{ print $14, $15 }' "/proc/$1/stat"
}
