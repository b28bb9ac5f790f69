#!/usr/bin/env bash
# Forwarding rate of vnetd against DPDK testpmd on the same topology, same run:
#   generator (vnet-perf tx, core 0) -> port A -> [switch on core 1] -> port B -> vnet-perf rx (core 0)
# where the switch is (1) vnetd: two vhost-user ports on one bridge, one busy poll thread pinned
# to core 1, and (2) dpdk-testpmd: two net_vhost ports, io forwarding, forwarding lcore 1.
# vnetd is measured twice per size: --poll-mode busy (the peak) and --poll-mode adaptive (the
# default, which sleeps when idle); the project's rule is adaptive >= 90% of busy's peak rate.
# Sizes 64 and 1518 bytes. Prints Mpps per size, the ratio vnetd/testpmd (busy) and the ratio
# adaptive/busy.
# Usage: bench/forward_compare.sh [SECONDS] [SIZES...]   (run scripts/build first)
set -euo pipefail
secs=${1:-10}; shift || true
sizes=("${@:-64}")
[[ $# -gt 0 ]] || sizes=(64 1518)
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${VNET_BIN_DIR:-$repo/build/release/bin}
for b in vnetd vnet-perf; do [[ -x $bin/$b ]] || { echo "build first: scripts/build ($b missing)" >&2; exit 1; }; done
command -v dpdk-testpmd >/dev/null || { echo "dpdk-testpmd missing (scripts/deps)" >&2; exit 1; }
run=$(mktemp -d /tmp/vnet-fwd.XXXXXX)
sw_pid=
# The generators run inside $(...) subshells, so their pids reach cleanup through this file.
gen_pids=$run/gen.pids
cleanup() {
    [[ -n $sw_pid ]] && { kill -TERM "$sw_pid" 2>/dev/null; wait "$sw_pid" 2>/dev/null || true; }
    if [[ -f $gen_pids ]]; then
        local p
        while read -r p; do kill -INT "$p" 2>/dev/null || true; done <"$gen_pids"
        sleep 0.5
        while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$gen_pids"
    fi
    rm -rf "$run" /var/run/dpdk/vfwd$$ /var/run/dpdk/vgrx$$ /var/run/dpdk/vgtx$$
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# One measurement: rx and tx generators on core 0 against sockets A and B; prints rx Mpps.
traffic() {  # traffic SOCK_A SOCK_B SIZE
    taskset -c 0 "$bin/vnet-perf" --connect "$2" --mode rx --interrupt --duration $((secs + 2)) --json >"$run/rx.json" 2>"$run/rx.err" &
    local rx=$!
    echo $rx >>"$gen_pids"
    sleep 1
    taskset -c 0 "$bin/vnet-perf" --connect "$1" --mode tx --interrupt --size "$3" --duration "$secs" --json >"$run/tx.json" 2>"$run/tx.err" &
    local tx=$!
    echo $tx >>"$gen_pids"
    wait $tx || true
    wait $rx || true
    : >"$gen_pids"   # they are gone: never signal a recycled pid
    python3 - "$run/rx.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
    print(f"{r.get('pps', 0) / 1e6:.3f}")
except Exception:
    print("0")
PY
}

# The same switch, with DPDK testpmd as the generator instead: net_virtio_user txonly into port A
# and rxonly on port B, both on core 0 (two lcores mapped onto CPU 0). Prints rx Mpps from the
# rxonly instance's port statistics.
traffic_testpmd() {  # traffic_testpmd SOCK_A SOCK_B SIZE
    dpdk-testpmd --lcores '0@0,1@0' --no-pci --no-huge -m 256 --file-prefix=vgrx$$ \
        --vdev "net_virtio_user0,path=$2,queues=1" -- --forward-mode=rxonly --auto-start \
        --total-num-mbufs=16384 --stats-period 1 >"$run/gen_rx.log" 2>&1 &
    local rx=$!
    echo $rx >>"$gen_pids"
    sleep 2
    dpdk-testpmd --lcores '0@0,1@0' --no-pci --no-huge -m 256 --file-prefix=vgtx$$ \
        --vdev "net_virtio_user0,path=$1,queues=1" -- --forward-mode=txonly --txpkts="$3" --auto-start \
        --total-num-mbufs=16384 --stats-period 1 >"$run/gen_tx.log" 2>&1 &
    local tx=$!
    echo $tx >>"$gen_pids"
    sleep "$secs"
    kill -INT $tx $rx 2>/dev/null || true
    wait $tx $rx 2>/dev/null || true
    : >"$gen_pids"
    rm -rf /var/run/dpdk/vgrx$$ /var/run/dpdk/vgtx$$
    # Peak of the per-second "Rx-pps" lines of the receiver.
    awk '/Rx-pps:/ { if ($2 > m) m = $2 } END { printf "%.3f\n", m / 1e6 }' "$run/gen_rx.log"
}

start_vnetd() {  # start_vnetd POLL_MODE: one poll thread pinned to core 1, ports a and b
    rm -f "$run/a.sock" "$run/b.sock" "$run/ctl.sock"
    "$bin/vnetd" --ctl "$run/ctl.sock" --pmd-cores 1 --poll-mode "$1" \
        --port "vhost-user:$run/a.sock" --port "vhost-user:$run/b.sock" >>"$run/vnetd.log" 2>&1 &
    sw_pid=$!
    for _ in $(seq 50); do [[ -S $run/b.sock ]] && break; sleep 0.1; done
}

declare -A vnet testpmd vnet_gen vnet_adaptive
for size in "${sizes[@]}"; do
    start_vnetd busy
    vnet[$size]=$(traffic "$run/a.sock" "$run/b.sock" "$size")
    vnet_gen[$size]=$(traffic_testpmd "$run/a.sock" "$run/b.sock" "$size")
    kill -TERM $sw_pid; wait $sw_pid || true; sw_pid=

    # Same topology and generators, vnetd's default poll mode.
    start_vnetd adaptive
    vnet_adaptive[$size]=$(traffic "$run/a.sock" "$run/b.sock" "$size")
    kill -TERM $sw_pid; wait $sw_pid || true; sw_pid=

    dpdk-testpmd -l 0,1 --no-pci --no-huge -m 512 --file-prefix=vfwd$$ \
        --vdev "net_vhost0,iface=$run/da.sock,queues=1" --vdev "net_vhost1,iface=$run/db.sock,queues=1" \
        -- --forward-mode=io --auto-start --total-num-mbufs=32768 --stats-period 5 >"$run/testpmd.log" 2>&1 &
    sw_pid=$!
    for _ in $(seq 100); do [[ -S $run/db.sock ]] && break; sleep 0.1; done
    testpmd[$size]=$(traffic "$run/da.sock" "$run/db.sock" "$size")
    kill -TERM $sw_pid; wait $sw_pid || true; sw_pid=
    rm -rf /var/run/dpdk/vfwd$$
done

# The first five columns are the original output; the adaptive ones are appended.
echo "size vnetd_mpps testpmd_mpps ratio vnetd_mpps_with_testpmd_generators vnetd_adaptive_mpps adaptive/busy"
for size in "${sizes[@]}"; do
    awk -v s="$size" -v a="${vnet[$size]}" -v b="${testpmd[$size]}" -v g="${vnet_gen[$size]}" \
        -v d="${vnet_adaptive[$size]}" \
        'BEGIN { printf "%s %s %s %s %s %s %s\n", s, a, b, (b > 0 ? sprintf("%.2f", a / b) : "n/a"), g, d,
                 (a > 0 ? sprintf("%.2f", d / a) : "n/a") }'
done
# The project's rule: adaptive polling reaches at least 90% of busy polling's peak rate.
for size in "${sizes[@]}"; do
    awk -v s="$size" -v a="${vnet[$size]}" -v d="${vnet_adaptive[$size]}" \
        'BEGIN { if (a > 0) printf "adaptive/busy %s B: %.2f (%s; rule >= 0.90)\n", s, d / a, (d >= 0.9 * a ? "ok" : "BELOW") }'
done
