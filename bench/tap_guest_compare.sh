#!/usr/bin/env bash
# One QEMU guest (TCG) and the host kernel in a network namespace, TCP throughput both ways,
# two paths in the same run:
#   vnetd     guest --vhost-user--> vnetd (release build, default adaptive polling)
#             --TAP port--> tap in the netns
#   qemu-tap  guest on QEMU's own tap backend (-netdev tap,vhost=off), the tap in the netns
# The guest is the same (image, MAC, IP, virtio-net-pci with vectors=0, as run-guest uses for
# vhost-user under TCG) on both paths, booted once per path. iperf3 runs as client in the netns
# against the guest's iperf3 server: host->guest, and guest->host with -R.
# Prints Gbit/s (receiver) per path and direction, the ratio vnetd/qemu-tap, and CPU (utime+stime
# from /proc over each iperf3 run, percent of one core) of:
#   vnetd     the vnetd process ("-" on the qemu-tap path)
#   qemu      the QEMU process, all threads (the TCG vCPU thread is near 100% on both paths)
#   qemu_io   QEMU without its vCPU thread: on qemu-tap, QEMU's main loop doing the tap reads and
#             writes and the virtio-net device work, i.e. the back-end; on vnetd nearly idle
# Usage: bench/tap_guest_compare.sh [SECONDS]   (needs root; builds nothing: run scripts/build)
set -euo pipefail
secs=${1:-10}
[[ $secs =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${VNET_BIN_DIR:-$repo/build/release/bin}
die() { echo "tap_guest_compare: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "needs root (QEMU taps, network namespaces)"
[[ -c /dev/net/tun ]] || die "no /dev/net/tun"
[[ -x $bin/vnetd && -x $bin/vnetctl ]] || die "build first: scripts/build"
for c in qemu-system-x86_64 iperf3 python3; do command -v $c >/dev/null || die "$c missing (scripts/deps)"; done
ip netns list >/dev/null 2>&1 || die "ip netns does not work here"
"$repo/scripts/guest/build-image" >/dev/null

VNET_RUNDIR=$(mktemp -d /tmp/vnet-tapg.XXXXXX)
export VNET_RUNDIR
source "$repo/tests/e2e/lib/guest.sh"
run=$VNET_RUNDIR
ns=vtapg$$          # the host end lives here on both paths
vtap=vtapgv$$       # vnetd's TAP port
qtap=vtapgq$$       # QEMU's tap
guest_ip=10.89.0.1 host_ip=10.89.0.254
vnetd_pid=
cleanup() {
    vnet_guest_stop_all || true
    if [[ -n $vnetd_pid ]]; then
        kill -TERM "$vnetd_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$vnetd_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$vnetd_pid" 2>/dev/null || true
        wait "$vnetd_pid" 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
    ip link del "$vtap" 2>/dev/null || true
    ip link del "$qtap" 2>/dev/null || true
    rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# Leftovers of a killed run that had the same pid (its trap never ran).
ip netns del "$ns" 2>/dev/null || true
ip link del "$vtap" 2>/dev/null || true
ip link del "$qtap" 2>/dev/null || true
ip netns add "$ns"
ip -n "$ns" link set lo up

# Moves IFNAME (already created in the root netns and attached to its owner) into the netns and
# gives it the host address. QEMU and vnetd both open the tap by name in their own (root) netns,
# so the move has to come after they attached; the open fd keeps working across the move.
tap_into_ns() {
    ip link set "$1" netns "$ns"
    ip -n "$ns" addr add "$host_ip/24" dev "$1"
    ip -n "$ns" link set "$1" up
}
source "$repo/bench/lib/proc_ticks.sh"  # ticks PID [io]
boot_guest() {  # boot_guest NETDEV [run-guest options]
    VNET_GUESTS+=(g)
    # debug-threads=on names QEMU's threads ("CPU 0/TCG"), which the qemu_io column needs.
    vnet_guest_start g --netdev "$@" --ip "$guest_ip/24" --mac 52:54:00:89:00:01 --no-ipv6 \
        --qemu-arg -name --qemu-arg debug-threads=on ||
        die "guest did not boot (logs: $run/g.console.log)"
    # The tap comes up in the netns after the guest booted: wait for the path to carry traffic.
    for _ in $(seq 30); do
        ip netns exec "$ns" ping -c 1 -W 1 "$guest_ip" >/dev/null 2>&1 && return 0
    done
    die "no ping from the netns to the guest"
}
# measure LABEL DIR [iperf3 args]: one iperf3 run; prints "LABEL DIR gbit vnetd qemu qemu_io"
measure() {
    local label=$1 dir=$2; shift 2
    local qpid v0 v1 q0 q1 i0 i1 t0 t1 out g
    qpid=$(<"$run/g.pid")
    vnet_guest_wait_iperf g || die "guest iperf3 server not listening"
    v0=0 v1=0
    [[ -n $vnetd_pid ]] && v0=$(ticks "$vnetd_pid")
    q0=$(ticks "$qpid"); i0=$(ticks "$qpid" io); t0=$(date +%s.%N)
    out=$(ip netns exec "$ns" timeout $((secs + 30)) iperf3 -c "$guest_ip" -t "$secs" -J "$@") ||
        die "iperf3 $label $dir failed: $(tail -c 400 <<<"$out")"
    t1=$(date +%s.%N); q1=$(ticks "$qpid"); i1=$(ticks "$qpid" io)
    [[ -n $vnetd_pid ]] && v1=$(ticks "$vnetd_pid")
    g=$(python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))' <<<"$out")
    awk -v l="$label" -v d="$dir" -v g="$g" -v v0="$v0" -v v1="$v1" -v q0="$q0" -v q1="$q1" \
        -v i0="$i0" -v i1="$i1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" -v has_v="${vnetd_pid:+1}" '
        function pct(d) { return sprintf("%.0f", d / hz / (t1 - t0) * 100) }
        BEGIN { printf "%s %s %s %s %s %s\n", l, d, g, (has_v ? pct(v1 - v0) : "-"), pct(q1 - q0), pct(i1 - i0) }'
}

results=()
record() { local r; r=$(measure "$@") || exit 1; results+=("$r"); }
# 1. vnetd: vhost-user port for the guest, TAP port for the host (vnetd creates the tap).
"$bin/vnetd" --ctl "$run/ctl.sock" --port "vhost-user:$run/g.sock,name=g" --port "tap:$vtap,name=host" \
    >"$run/vnetd.log" 2>&1 &
vnetd_pid=$!
for _ in $(seq 100); do
    [[ -S $run/ctl.sock && -S $run/g.sock ]] && "$bin/vnetctl" --ctl "$run/ctl.sock" show >/dev/null 2>&1 && break
    kill -0 "$vnetd_pid" 2>/dev/null || { cat "$run/vnetd.log" >&2; die "vnetd exited at start"; }
    sleep 0.1
done
ip link show "$vtap" >/dev/null 2>&1 || die "vnetd did not create $vtap"
tap_into_ns "$vtap"
boot_guest "vhost-user:$run/g.sock"
record vnetd host-\>guest
record vnetd guest-\>host -R
vnet_guest_stop_all
kill -TERM "$vnetd_pid"; wait "$vnetd_pid" || true; vnetd_pid=
ip -n "$ns" link del "$vtap" 2>/dev/null || true   # gone with vnetd's fd already, normally

# 2. QEMU's tap backend, no vhost: a persistent tap QEMU attaches to by name, then moved.
ip tuntap add "$qtap" mode tap
ip link set "$qtap" up
VNET_GUESTS+=(g)   # registered here too: the background boot's registration is lost
boot_guest "tap:$qtap,vhost=off" --nic-opts ",vectors=0" &
boot=$!
# QEMU attaches to the tap early in its start-up, long before the guest is ready; move the tap
# only once QEMU holds it (its flags show the carrier), so QEMU never creates a second one.
for _ in $(seq 300); do
    [[ $(cat "/sys/class/net/$qtap/carrier" 2>/dev/null) == 1 ]] && break
    sleep 0.1
done
[[ $(cat "/sys/class/net/$qtap/carrier" 2>/dev/null) == 1 ]] || die "QEMU did not attach to $qtap"
tap_into_ns "$qtap"
wait $boot || die "guest on the tap backend did not boot"
record qemu-tap host-\>guest
record qemu-tap guest-\>host -R
vnet_guest_stop_all

all=$(printf '%s\n' "${results[@]}")
echo "path direction gbit_per_s vnetd_cpu_percent qemu_cpu_percent qemu_io_cpu_percent"
echo "$all"
for d in 'host->guest' 'guest->host'; do
    awk -v d="$d" '$2 == d && $1 == "vnetd" { v = $3 } $2 == d && $1 == "qemu-tap" { q = $3 }
        END { printf "ratio vnetd/qemu-tap %s = %s\n", d, (q > 0 ? sprintf("%.2f", v / q) : "n/a") }' <<<"$all"
done
