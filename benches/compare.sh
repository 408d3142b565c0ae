#!/usr/bin/env bash
# Pipebench comparison: libevent vs runtime vs tokio on libevent's classic
# test/bench.c method ("many fds, few active"; see peers/libevent/pipebench.c).
#
# Usage: benches/compare.sh [options] [N:A[:W] ...] [-- extra args for the runtime example]
#
#   N:A[:W]          configurations to run (default: 100:1 1000:100; W defaults to N)
#   --runs K         runs per implementation and configuration (default 5); the
#                    table shows the median usec_per_round of the K runs
#   --rounds R       rounds per run (-r, default: the programs' default, 25)
#   --variant ARGS   add a runtime row run with ARGS (repeatable), e.g.
#                    --variant "--api callbacks"; default: one row, no extra args
#   --pin            run every benchmark under `taskset -c 0` (when available)
#   --skip-build     use the binaries already built
#   -h, --help       this text
#
# Everything after `--` is appended to every runtime row's command line.
# Runs alternate the order of the implementations (forward, then reversed) so
# no implementation always runs first or last. Installs nothing: it needs
# gcc, pkg-config and libevent's headers (Debian: apt-get install libevent-dev).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

RUNS=5
ROUNDS=""
PIN=0
SKIP_BUILD=0
CONFIGS=()
VARIANTS=()
HAVE_VARIANTS=0
EXTRA=()

while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) RUNS="${2:?--runs needs a value}"; shift 2 ;;
        --rounds) ROUNDS="${2:?--rounds needs a value}"; shift 2 ;;
        --variant) VARIANTS+=("${2?--variant needs a value}"); HAVE_VARIANTS=1; shift 2 ;;
        --pin) PIN=1; shift ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; EXTRA=("$@"); break ;;
        [0-9]*:[0-9]*) CONFIGS+=("$1"); shift ;;
        *) echo "compare.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[[ ${#CONFIGS[@]} -gt 0 ]] || CONFIGS=("100:1" "1000:100")
[[ $HAVE_VARIANTS -eq 1 ]] || VARIANTS=("")
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --runs must be a positive integer" >&2; exit 2; }
[[ -z "$ROUNDS" || "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --rounds must be a positive integer" >&2; exit 2; }

ROOT_TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PEERS_TARGET="${CARGO_TARGET_DIR:-$ROOT/peers/target}"
LIBEVENT_BIN="$ROOT/peers/target/pipebench_libevent"
RUNTIME_BIN="$ROOT_TARGET/release/examples/pipebench"
TOKIO_BIN="$PEERS_TARGET/release/tokio_pipebench"

PREFIX=()
if [[ $PIN -eq 1 ]]; then
    if command -v taskset >/dev/null 2>&1; then
        PREFIX=(taskset -c 0)
    else
        echo "compare.sh: --pin: taskset not found (Debian: util-linux); running unpinned" >&2
    fi
fi

# ---------------------------------------------------------------- build ----
HAVE_RUNTIME=1
if [[ $SKIP_BUILD -eq 0 ]]; then
    if ! pkg-config --exists libevent; then
        echo "compare.sh: libevent not found by pkg-config." >&2
        echo "  hint: apt-get update && apt-get install -y libevent-dev pkg-config" >&2
        exit 1
    fi
    mkdir -p "$ROOT/peers/target"
    echo "building: pipebench_libevent (gcc -O2, libevent $(pkg-config --modversion libevent))" >&2
    # shellcheck disable=SC2046  # pkg-config output must word-split
    gcc -O2 -o "$LIBEVENT_BIN" "$ROOT/peers/libevent/pipebench.c" $(pkg-config --cflags --libs libevent)

    if [[ -f "$ROOT/examples/pipebench.rs" ]]; then
        echo "building: runtime example pipebench (cargo build --release --example pipebench)" >&2
        cargo build --release --quiet --example pipebench
    else
        echo "compare.sh: examples/pipebench.rs not found: skipping the runtime rows" >&2
        HAVE_RUNTIME=0
    fi

    echo "building: tokio_pipebench (peers, cargo build --release --bin tokio_pipebench)" >&2
    (cd "$ROOT/peers" && cargo build --release --quiet --bin tokio_pipebench)
else
    [[ -x "$RUNTIME_BIN" ]] || { echo "compare.sh: $RUNTIME_BIN missing: skipping the runtime rows" >&2; HAVE_RUNTIME=0; }
fi
for bin in "$LIBEVENT_BIN" "$TOKIO_BIN"; do
    [[ -x "$bin" ]] || { echo "compare.sh: $bin is missing (build it or drop --skip-build)" >&2; exit 1; }
done

# ------------------------------------------------------------------ run ----
# Implementations: name<TAB>kind<TAB>variant-args
IMPLS=("libevent"$'\t'"libevent"$'\t')
if [[ $HAVE_RUNTIME -eq 1 ]]; then
    for v in "${VARIANTS[@]}"; do
        if [[ -z "$v" ]]; then name="runtime"; else name="runtime $v"; fi
        IMPLS+=("$name"$'\t'"runtime"$'\t'"$v")
    done
fi
IMPLS+=("tokio"$'\t'"tokio"$'\t')

# run_one KIND VARIANT N A W -> prints usec_per_round
run_one() {
    local kind="$1" variant="$2" n="$3" a="$4" w="$5"
    local args=(-n "$n" -a "$a" -w "$w")
    [[ -n "$ROUNDS" ]] && args+=(-r "$ROUNDS")
    local cmd
    case "$kind" in
        libevent) cmd=("$LIBEVENT_BIN" "${args[@]}") ;;
        tokio) cmd=("$TOKIO_BIN" "${args[@]}") ;;
        runtime)
            cmd=("$RUNTIME_BIN" "${args[@]}")
            if [[ -n "$variant" ]]; then
                local vargs
                read -r -a vargs <<<"$variant"
                cmd+=("${vargs[@]}")
            fi
            cmd+=("${EXTRA[@]}")
            ;;
    esac
    local out line
    if ! out="$("${PREFIX[@]}" "${cmd[@]}")"; then
        echo "compare.sh: failed: ${PREFIX[*]} ${cmd[*]}" >&2
        return 1
    fi
    line="$(grep '^pipebench ' <<<"$out" | tail -n 1)"
    if [[ ! "$line" =~ usec_per_round=([0-9.]+) ]]; then
        echo "compare.sh: no summary line from: ${cmd[*]}" >&2
        echo "$out" >&2
        return 1
    fi
    echo "${BASH_REMATCH[1]}"
}

# median of the arguments (floats)
median() {
    printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
        if (NR % 2) printf "%.1f", v[(NR+1)/2]; else printf "%.1f", (v[NR/2]+v[NR/2+1])/2 }'
}

echo "pipebench comparison: ${#CONFIGS[@]} configuration(s), $RUNS run(s) per implementation, median usec/round${PREFIX[*]:+, pinned: ${PREFIX[*]}}"
[[ ${#EXTRA[@]} -gt 0 ]] && echo "runtime extra args: ${EXTRA[*]}"

for cfg in "${CONFIGS[@]}"; do
    IFS=: read -r n a w <<<"$cfg"
    w="${w:-$n}"
    if ! [[ "$n" =~ ^[0-9]+$ && "$a" =~ ^[0-9]+$ && "$w" =~ ^[0-9]+$ ]]; then
        echo "compare.sh: bad configuration '$cfg' (want N:A or N:A:W)" >&2
        exit 2
    fi
    declare -A results=()
    for ((run = 0; run < RUNS; run++)); do
        order=("${IMPLS[@]}")
        if ((run % 2 == 1)); then
            order=()
            for ((i = ${#IMPLS[@]} - 1; i >= 0; i--)); do order+=("${IMPLS[i]}"); done
        fi
        for impl in "${order[@]}"; do
            IFS=$'\t' read -r name kind variant <<<"$impl"
            us="$(run_one "$kind" "$variant" "$n" "$a" "$w")"
            results["$name"]+="$us "
        done
    done

    echo
    echo "config n=$n a=$a w=$w${ROUNDS:+ r=$ROUNDS}"
    printf '  %-28s %14s %12s   %s\n' "impl" "median us/rnd" "vs libevent" "runs (us/round)"
    base=""
    for impl in "${IMPLS[@]}"; do
        IFS=$'\t' read -r name _ _ <<<"$impl"
        # shellcheck disable=SC2086  # intentional word splitting of the run list
        med="$(median ${results[$name]})"
        [[ -z "$base" ]] && base="$med"
        ratio="$(awk -v m="$med" -v b="$base" 'BEGIN { if (b > 0) printf "%.2fx", m / b; else print "-" }')"
        printf '  %-28s %14s %12s   %s\n' "$name" "$med" "$ratio" "${results[$name]% }"
    done
    unset results
done
