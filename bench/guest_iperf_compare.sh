#!/usr/bin/env bash
# Guest-to-guest TCP throughput, same two guests, same run, three back-ends:
#   vnetd     two vhost-user ports on one bridge (release build, default adaptive polling)
#   qemu-tap  QEMU's own TAP backend (vhost=off) with a Linux bridge (the seed's path)
#   dpdk      DPDK testpmd, two net_vhost ports, io forwarding on one core
# Prints one line per back-end and the ratios vnetd/qemu-tap and vnetd/dpdk.
# Usage: bench/guest_iperf_compare.sh [SECONDS]   (needs root; builds nothing: run scripts/build)
set -euo pipefail
secs=${1:-10}
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$repo/build/release/bin
[[ -x $bin/vnetd ]] || { echo "build first: scripts/build" >&2; exit 1; }
"$repo/scripts/guest/build-image" >/dev/null
export VNET_RUNDIR=$(mktemp -d /tmp/vnet-bench.XXXXXX)
source "$repo/tests/e2e/lib/guest.sh"
run=$VNET_RUNDIR
bg_pid=
cleanup() {
    vnet_guest_stop_all || true
    [[ -n $bg_pid ]] && { kill -TERM "$bg_pid" 2>/dev/null; wait "$bg_pid" 2>/dev/null || true; }
    ip link del vbenchbr 2>/dev/null || true
    ip link del vbencht0 2>/dev/null || true
    ip link del vbencht1 2>/dev/null || true
    rm -rf /var/run/dpdk/vbench$$ "$run"
}
trap cleanup EXIT

boot_pair() {  # boot_pair NETDEV_A NETDEV_B
    VNET_GUESTS+=(a b)
    vnet_guest_start a --netdev "$1" --ip 10.88.0.1/24 --no-ipv6 &
    local pa=$!
    vnet_guest_start b --netdev "$2" --ip 10.88.0.2/24 --no-ipv6 &
    local pb=$!
    wait $pa && wait $pb
    vnet_guest_exec -t 20 a 'ping -c 2 -W 2 10.88.0.2' >/dev/null
}
measure() {  # measure LABEL: iperf3 a->b, Gbit/s of the receiver, plus back-end CPU
    local cpu0 cpu1 out g
    cpu0=$(awk '{print $14+$15}' /proc/$bg_pid/stat 2>/dev/null || echo 0)
    out=$(vnet_guest_exec -t $((secs + 30)) a "iperf3 -c 10.88.0.2 -t $secs")
    cpu1=$(awk '{print $14+$15}' /proc/$bg_pid/stat 2>/dev/null || echo 0)
    g=$(awk '/receiver/ {for (i=1;i<=NF;i++) if ($i ~ /bits\/sec/) {v=$(i-1); u=$i}} END {
        if (u ~ /^G/) printf "%.3f", v; else if (u ~ /^M/) printf "%.3f", v/1000; else print 0 }' <<<"$out")
    local cpu_pct
    cpu_pct=$(awk -v a="$cpu0" -v b="$cpu1" -v s="$secs" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (b-a)/hz/s*100 }')
    echo "$1 $g $cpu_pct"
}
stop_pair() { vnet_guest_stop_all; }

results=()
# 1. vnetd
"$bin/vnetd" --ctl "$run/ctl.sock" --port "vhost-user:$run/a.sock" --port "vhost-user:$run/b.sock" >"$run/vnetd.log" 2>&1 &
bg_pid=$!
sleep 0.5
boot_pair "vhost-user:$run/a.sock" "vhost-user:$run/b.sock"
results+=("$(measure vnetd)")
stop_pair; kill -TERM $bg_pid; wait $bg_pid || true; bg_pid=

# 2. QEMU TAP backend + Linux bridge (no back-end process: CPU column is the guests' vhost=off path)
ip link add vbenchbr type bridge && ip link set vbenchbr up
for t in vbencht0 vbencht1; do ip tuntap add $t mode tap; ip link set $t master vbenchbr up; done
sleep 1 & bg_pid=$!
boot_pair "tap:vbencht0,vhost=off" "tap:vbencht1,vhost=off"
results+=("$(measure qemu-tap)")
stop_pair; bg_pid=

# 3. DPDK testpmd vhost PMD, io forwarding between the two ports on one core
dpdk-testpmd -l 0,1 --no-pci --no-huge -m 512 --file-prefix=vbench$$ \
    --vdev "net_vhost0,iface=$run/da.sock,queues=1" --vdev "net_vhost1,iface=$run/db.sock,queues=1" \
    -- --forward-mode=io --auto-start --total-num-mbufs=32768 --stats-period 5 >"$run/testpmd.log" 2>&1 &
bg_pid=$!
for _ in $(seq 100); do [[ -S $run/da.sock && -S $run/db.sock ]] && break; sleep 0.1; done
boot_pair "vhost-user:$run/da.sock" "vhost-user:$run/db.sock"
results+=("$(measure dpdk)")
stop_pair; kill -TERM $bg_pid; wait $bg_pid || true; bg_pid=

echo "backend gbit_per_s backend_cpu_percent"
printf '%s\n' "${results[@]}"
v=$(awk '$1=="vnetd"{print $2}' <<<"$(printf '%s\n' "${results[@]}")")
for peer in qemu-tap dpdk; do
    p=$(awk -v n=$peer '$1==n{print $2}' <<<"$(printf '%s\n' "${results[@]}")")
    awk -v a="$v" -v b="$p" -v n="$peer" 'BEGIN { if (b > 0) printf "ratio vnetd/%s = %.2f\n", n, a/b }'
done
