#!/usr/bin/env bash
# Guest-to-guest TCP throughput (iperf3 a -> b), same two guests, same run, three back-ends:
#   vnetd     two vhost-user ports on one bridge (release build, default adaptive polling)
#   qemu-tap  QEMU's own TAP backend (vhost=off) with a Linux bridge (the seed's path)
#   dpdk      DPDK testpmd, two net_vhost ports, io forwarding on one core
# vnetd and qemu-tap are measured a second time with guest b rebooted without receive offloads
# (virtio-net-pci guest_csum/guest_tso4/guest_tso6/guest_ecn/guest_ufo=off; guest a unchanged):
# a still sends 64 KiB TSO frames with partial checksums, so vnetd must segment and checksum
# them in software for b (its sw_gso_frames/sw_segments counters are printed as proof); on
# qemu-tap the kernel does it (the tap's offloads follow the guest's features). dpdk is not
# measured that way: io forwarding passes the GSO frames through and b cannot take them.
#
# CPU columns (utime+stime from /proc over the iperf3 run, percent of one core):
#   backend_cpu  the vnetd or dpdk-testpmd process; "-" for qemu-tap, which has no back-end
#                process: its back-end runs inside QEMU (see qemu_io_cpu) and the bridge in the
#                kernel (softirq time lands on whichever thread is running)
#   qemu_cpu     both QEMU processes, all threads (TCG vCPU threads are near 100% whatever the
#                back-end)
#   qemu_io_cpu  both QEMUs without their vCPU threads: with vhost=off this is QEMU's main loop
#                doing the tap reads/writes and the virtio-net device work; with vhost-user it
#                is nearly idle
# Prints one line per back-end and offload setting, the ratios vnetd/qemu-tap and vnetd/dpdk,
# and offloads-on/offloads-off per back-end.
# Usage: bench/guest_iperf_compare.sh [SECONDS]   (needs root; builds nothing: run scripts/build)
set -euo pipefail
secs=${1:-10}
[[ $secs =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${VNET_BIN_DIR:-$repo/build/release/bin}
[[ -x $bin/vnetd && -x $bin/vnetctl ]] || { echo "build first: scripts/build" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "needs root (QEMU taps, bridge)" >&2; exit 1; }
"$repo/scripts/guest/build-image" >/dev/null
VNET_RUNDIR=$(mktemp -d /tmp/vnet-bench.XXXXXX)
export VNET_RUNDIR
source "$repo/tests/e2e/lib/guest.sh"
run=$VNET_RUNDIR
br=vbenchbr$$ t0=vbencha$$ t1=vbenchb$$
no_rx_offloads=',guest_csum=off,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off'
bg_pid=
cleanup() {
    vnet_guest_stop_all || true
    [[ -n $bg_pid ]] && { kill -TERM "$bg_pid" 2>/dev/null; wait "$bg_pid" 2>/dev/null || true; }
    ip link del "$br" 2>/dev/null || true
    ip link del "$t0" 2>/dev/null || true
    ip link del "$t1" 2>/dev/null || true
    rm -rf /var/run/dpdk/vbench$$ "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

boot() {  # boot NAME NETDEV IP [run-guest options]
    local name=$1 netdev=$2 ip=$3; shift 3
    # debug-threads=on names QEMU's threads ("CPU 0/TCG"), which qemu_io_cpu needs.
    vnet_guest_start "$name" --netdev "$netdev" --ip "$ip/24" --no-ipv6 \
        --qemu-arg -name --qemu-arg debug-threads=on "$@"
}
boot_pair() {  # boot_pair NETDEV_A NETDEV_B
    VNET_GUESTS+=(a b)
    boot a "$1" 10.88.0.1 &
    local pa=$!
    boot b "$2" 10.88.0.2 &
    local pb=$!
    wait $pa && wait $pb
    vnet_guest_exec -t 20 a 'ping -c 2 -W 2 10.88.0.2' >/dev/null
}
reboot_b_without_offloads() {  # reboot_b_without_offloads NETDEV_B
    vnet_guest_stop b
    boot b "$1" 10.88.0.2 --nic-opts "$no_rx_offloads"
    vnet_guest_exec -t 30 a 'for i in $(seq 10); do ping -c 1 -W 2 10.88.0.2 >/dev/null && exit 0; done; exit 1' >/dev/null
}
source "$repo/bench/lib/proc_ticks.sh"  # ticks PID [io]
qemu_ticks() {  # qemu_ticks [io]: both guests
    echo $(( $(ticks "$(<"$run/a.pid")" "${1:-}") + $(ticks "$(<"$run/b.pid")" "${1:-}") ))
}
measure() {  # measure LABEL OFFLOADS_B: iperf3 a->b; prints "LABEL OFFLOADS gbit backend qemu qemu_io"
    local b0=0 b1=0 q0 q1 i0 i1 w0 w1 out g
    vnet_guest_wait_iperf b
    [[ -n $bg_pid ]] && b0=$(ticks "$bg_pid")
    q0=$(qemu_ticks); i0=$(qemu_ticks io); w0=$(date +%s.%N)
    out=$(vnet_guest_exec -t $((secs + 30)) a "iperf3 -c 10.88.0.2 -t $secs") ||
        { echo "iperf3 $1 failed: $out" >&2; return 1; }
    w1=$(date +%s.%N); q1=$(qemu_ticks); i1=$(qemu_ticks io)
    [[ -n $bg_pid ]] && b1=$(ticks "$bg_pid")
    g=$(awk '/receiver/ {for (i=1;i<=NF;i++) if ($i ~ /bits\/sec/) {v=$(i-1); u=$i}} END {
        if (u ~ /^G/) printf "%.3f", v; else if (u ~ /^M/) printf "%.3f", v/1000; else if (u ~ /^K/) printf "%.4f", v/1e6; else print 0 }' <<<"$out")
    awk -v l="$1" -v o="$2" -v g="$g" -v has_b="${bg_pid:+1}" -v b0="$b0" -v b1="$b1" -v q0="$q0" -v q1="$q1" \
        -v i0="$i0" -v i1="$i1" -v w0="$w0" -v w1="$w1" -v hz="$(getconf CLK_TCK)" '
        function pct(d) { return sprintf("%.0f", d / hz / (w1 - w0) * 100) }
        BEGIN { printf "%s %s %s %s %s %s\n", l, o, g, (has_b ? pct(b1 - b0) : "-"), pct(q1 - q0), pct(i1 - i0) }'
}
results=()
record() { local r; r=$(measure "$@") || exit 1; results+=("$r"); }

# 1. vnetd, then again with b rebooted without receive offloads (vnetd keeps running: b's
#    front-end reconnects to the same port).
"$bin/vnetd" --ctl "$run/ctl.sock" --port "vhost-user:$run/a.sock,name=a" --port "vhost-user:$run/b.sock,name=b" \
    >"$run/vnetd.log" 2>&1 &
bg_pid=$!
for _ in $(seq 100); do [[ -S $run/a.sock && -S $run/b.sock ]] && break; sleep 0.1; done
boot_pair "vhost-user:$run/a.sock" "vhost-user:$run/b.sock"
record vnetd on
reboot_b_without_offloads "vhost-user:$run/b.sock"
sw0=$("$bin/vnetctl" --ctl "$run/ctl.sock" stats --json)
record vnetd off
sw1=$("$bin/vnetctl" --ctl "$run/ctl.sock" stats --json)
# The counters are per port and may or may not restart with b's new session: report the growth
# when they kept counting, else the new value.
sw=$(python3 -c '
import json, sys
def b(s):
    p = {p["name"]: p for p in json.loads(s)["ports"]}["b"]
    return p.get("sw_gso_frames", 0), p.get("sw_segments", 0), p.get("drops", 0), p.get("drop_reasons", {})
(f0, s0, d0, r0), (f1, s1, d1, r1) = b(sys.argv[1]), b(sys.argv[2])
if f1 < f0 or d1 < d0: f0 = s0 = d0 = 0; r0 = {}
why = ",".join(f"{k}={v - r0.get(k, 0)}" for k, v in sorted(r1.items()) if v > r0.get(k, 0)) or "-"
print(f1 - f0, s1 - s0, d1 - d0, why)' "$sw0" "$sw1")
read -r sw_frames sw_segs sw_drops sw_why <<<"$sw"
vnet_guest_stop_all; kill -TERM $bg_pid; wait $bg_pid || true; bg_pid=

# 2. QEMU TAP backend + Linux bridge; same two offload settings.
ip link add "$br" type bridge && ip link set "$br" up
for t in "$t0" "$t1"; do ip tuntap add "$t" mode tap; ip link set "$t" master "$br" up; done
boot_pair "tap:$t0,vhost=off" "tap:$t1,vhost=off"
record qemu-tap on
reboot_b_without_offloads "tap:$t1,vhost=off"
record qemu-tap off
vnet_guest_stop_all

# 3. DPDK testpmd vhost PMD, io forwarding between the two ports on one core
if command -v dpdk-testpmd >/dev/null; then
    dpdk-testpmd -l 0,1 --no-pci --no-huge -m 512 --file-prefix=vbench$$ \
        --vdev "net_vhost0,iface=$run/da.sock,queues=1" --vdev "net_vhost1,iface=$run/db.sock,queues=1" \
        -- --forward-mode=io --auto-start --total-num-mbufs=32768 --stats-period 5 >"$run/testpmd.log" 2>&1 &
    bg_pid=$!
    for _ in $(seq 100); do [[ -S $run/da.sock && -S $run/db.sock ]] && break; sleep 0.1; done
    boot_pair "vhost-user:$run/da.sock" "vhost-user:$run/db.sock"
    record dpdk on
    vnet_guest_stop_all; kill -TERM $bg_pid; wait $bg_pid || true; bg_pid=
else
    echo "dpdk-testpmd missing (scripts/deps): dpdk row skipped" >&2
fi

all=$(printf '%s\n' "${results[@]}")
echo "backend b_rx_offloads gbit_per_s backend_cpu_percent qemu_cpu_percent qemu_io_cpu_percent"
echo "$all"
echo "vnetd software offloads for b (offloads off): $sw_frames GSO frames cut into $sw_segs segments, $sw_drops drops on port b ($sw_why)"
get() { awk -v n="$1" -v o="$2" '$1 == n && $2 == o { print $3 }' <<<"$all"; }
ratio() { awk -v a="$2" -v b="$3" -v n="$1" 'BEGIN { printf "ratio %s = %s\n", n, (b > 0 ? sprintf("%.2f", a / b) : "n/a") }'; }
ratio "vnetd/qemu-tap (offloads on)" "$(get vnetd on)" "$(get qemu-tap on)"
ratio "vnetd/qemu-tap (b offloads off)" "$(get vnetd off)" "$(get qemu-tap off)"
ratio "vnetd/dpdk" "$(get vnetd on)" "$(get dpdk on)"
ratio "vnetd offloads-on/offloads-off" "$(get vnetd on)" "$(get vnetd off)"
ratio "qemu-tap offloads-on/offloads-off" "$(get qemu-tap on)" "$(get qemu-tap off)"
