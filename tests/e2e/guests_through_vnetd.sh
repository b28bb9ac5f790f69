#!/usr/bin/env bash
# End-to-end: real QEMU guests (Linux virtio_net) through vnetd, sharing one set of booted guests:
#   1. two guests ping each other both ways without loss
#   2. iperf3 TCP both directions, with offloads on (default) and off in one guest; guest b
#      asks for no receive offloads (guest_csum/tso off), so vnetd segments and checksums
#      what a sends it in software (checked in its counters) and passes b's GSO frames to a
#   3. multiqueue: guest b has 2 queue pairs; parallel streams use both (vnetctl stats per queue)
#   4. a guest and the host kernel through a TAP port (in a network namespace): ping and TCP,
#      and 4 MiB both ways compared byte for byte (sha256)
#   5. guest reboot: traffic resumes
#   6. vnetd killed (SIGTERM) and restarted under running guests (QEMU reconnect=1): traffic
#      resumes without rebooting them
# Needs root, /dev/net/tun, ip netns, qemu-system-x86_64; fails with the reason otherwise.
# Usage: guests_through_vnetd.sh BIN_DIR
set -euo pipefail
bin=${1:?usage: $0 BIN_DIR}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "=== $*"; }
[[ $(id -u) -eq 0 ]] || fail "needs root (QEMU, TAP devices, network namespaces)"
[[ -c /dev/net/tun ]] || fail "no /dev/net/tun"
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 not installed (scripts/deps)"
ip netns list >/dev/null 2>&1 || fail "ip netns does not work here"

"$repo/scripts/guest/build-image" >/dev/null

export VNET_RUNDIR=$(mktemp -d /tmp/vnet-e2e.XXXXXX)
source "$repo/tests/e2e/lib/guest.sh"
run=$VNET_RUNDIR
ns=vnete2e$$
tap=vnete2e$$
# Leftovers of a killed run that had the same pid (its trap never ran).
ip netns del "$ns" 2>/dev/null || true
ip link del "$tap" 2>/dev/null || true
ctl=$run/vnetd.sock
vnetd_pid=

start_vnetd() {
    "$bin/vnetd" --ctl "$ctl" --log-level info \
        --port "vhost-user:$run/a.sock,name=a" \
        --port "vhost-user:$run/b.sock,name=b,queues=2" \
        --port "tap:$tap,name=host" >>"$run/vnetd.log" 2>&1 &
    vnetd_pid=$!
    for _ in $(seq 100); do
        [[ -S $ctl ]] && "$bin/vnetctl" --ctl "$ctl" show >/dev/null 2>&1 && return 0
        kill -0 "$vnetd_pid" 2>/dev/null || { cat "$run/vnetd.log"; fail "vnetd exited at start"; }
        sleep 0.1
    done
    fail "vnetd did not come up"
}
stop_vnetd() {
    [[ -n $vnetd_pid ]] || return 0
    kill -TERM "$vnetd_pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$vnetd_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$vnetd_pid" 2>/dev/null; then kill -KILL "$vnetd_pid"; fail "vnetd ignored SIGTERM for 30 s"; fi
    wait "$vnetd_pid" || fail "vnetd exited with status $? on SIGTERM"
    vnetd_pid=
}
cleanup() {
    vnet_guest_stop_all || true
    [[ -n $vnetd_pid ]] && kill -KILL "$vnetd_pid" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    ip link del "$tap" 2>/dev/null || true
    if [[ ${keep_logs:-0} -eq 0 ]]; then rm -rf "$run"; fi
}
trap 'keep_logs=1; echo "logs kept in $run"; tail -n 30 "$run/vnetd.log" 2>/dev/null; cleanup' ERR
trap cleanup EXIT

ping_ok() {  # ping_ok GUEST ADDR: 5 pings, each answered within 5 s (a TCG guest can stall
    # for a second; busybox ping -c 5 would stop waiting 1 s after its last send)
    vnet_guest_exec -t 60 "$1" "for i in 1 2 3 4 5; do ping -c 1 -W 5 $2 >/dev/null || { echo \"ping \$i to $2 lost\"; exit 1; }; done"
}
wait_ping() {  # wait_ping GUEST ADDR SECONDS: until one ping answers
    local end=$((SECONDS + $3))
    while ((SECONDS < end)); do
        vnet_guest_exec -t 10 "$1" "ping -c 1 -W 1 $2" >/dev/null 2>&1 && return 0
    done
    return 1
}
iperf() {  # iperf GUEST SERVER_ADDR [ARGS]: prints Gbit/s of the receiver
    local g=$1 addr=$2; shift 2
    local out
    # One retry: the server may still be finishing the previous test ("busy") a moment after
    # it shows up as listening.
    out=$(vnet_guest_exec -t 60 "$g" "iperf3 -c $addr -t 3 $*") ||
        { sleep 2; out=$(vnet_guest_exec -t 60 "$g" "iperf3 -c $addr -t 3 $*"); } || { echo "$out" >&2; return 1; }
    awk '/receiver/ {for (i=1;i<=NF;i++) if ($i ~ /bits\/sec/) {v=$(i-1); u=$i}} END {
        if (u ~ /^G/) printf "%.2f\n", v; else if (u ~ /^M/) printf "%.2f\n", v/1000; else if (u ~ /^K/) printf "%.4f\n", v/1e6; else print 0 }' <<<"$out"
}

step "start vnetd and guests"
start_vnetd
ip netns add "$ns"
ip link set "$tap" netns "$ns"
ip -n "$ns" addr add 10.77.0.254/24 dev "$tap"
ip -n "$ns" link set "$tap" up
ip -n "$ns" link set lo up
VNET_GUESTS+=(a b)
vnet_guest_start a --netdev "vhost-user:$run/a.sock,reconnect" --ip 10.77.0.1/24 --mac 52:54:00:77:00:01 --no-ipv6 --allow-reboot &
pa=$!
vnet_guest_start b --netdev "vhost-user:$run/b.sock,reconnect" --queues 2 --ip 10.77.0.2/24 --mac 52:54:00:77:00:02 --no-ipv6 \
    --nic-opts ",guest_csum=off,guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off" &
pb=$!
wait $pa || fail "guest a did not boot"
wait $pb || fail "guest b did not boot"

step "1. ping both ways"
ping_ok a 10.77.0.2 || fail "ping a -> b"
ping_ok b 10.77.0.1 || fail "ping b -> a"

step "2. iperf3 TCP both directions"
vnet_guest_wait_iperf b
g1=$(iperf a 10.77.0.2) || fail "iperf3 a -> b"
vnet_guest_wait_iperf b
g2=$(iperf a 10.77.0.2 -R) || fail "iperf3 b -> a"
echo "iperf3 a->b ${g1} Gbit/s, b->a ${g2} Gbit/s"
awk -v a="$g1" -v b="$g2" 'BEGIN { exit !(a > 0.01 && b > 0.01) }' || fail "TCP throughput too low: $g1 / $g2 Gbit/s"
# b took no receive offloads: a's 64 KiB TSO frames were cut and checksummed by vnetd (TCP
# would have stalled on a wrong segment or checksum); a took b's GSO frames whole.
sw=$("$bin/vnetctl" --ctl "$ctl" stats --json | python3 -c '
import json,sys
p={p["name"]: p for p in json.load(sys.stdin)["ports"]}
print(p["b"]["sw_gso_frames"], p["b"]["sw_segments"], p["a"]["sw_gso_frames"])')
read -r b_gso b_segs a_gso <<<"$sw"
echo "software offloads: b got $b_gso GSO frames cut into $b_segs segments; a got $a_gso (it takes them whole)"
[[ $b_gso -gt 0 && $b_segs -gt $b_gso ]] || fail "vnetd did not segment for the guest without receive offloads ($sw)"
[[ $a_gso -eq 0 ]] || fail "vnetd segmented for guest a, which takes GSO frames ($sw)"

step "2b. offloads off in one guest (ethtool -K): TCP still correct both ways"
vnet_guest_exec a 'ethtool -K eth0 tx off tso off gso off' >/dev/null || fail "ethtool -K in guest a"
features=$(vnet_guest_exec a 'ethtool -k eth0')
grep -q "tcp-segmentation-offload: off" <<<"$features" || fail "guest a still segments with TSO: $features"
vnet_guest_wait_iperf b
g4=$(iperf a 10.77.0.2) || fail "iperf3 a -> b with offloads off in a"
vnet_guest_wait_iperf b
g5=$(iperf a 10.77.0.2 -R) || fail "iperf3 b -> a with offloads off in a"
echo "offloads off in a: iperf3 a->b ${g4} Gbit/s, b->a ${g5} Gbit/s (on: ${g1} / ${g2})"
vnet_guest_exec a 'ethtool -K eth0 tx on tso on gso on' >/dev/null || fail "ethtool -K on in guest a"

step "3. multiqueue guest: parallel streams use both queue pairs"
vnet_guest_wait_iperf b
g3=$(iperf a 10.77.0.2 -P 4) || fail "iperf3 -P 4 a -> b"
echo "iperf3 -P 4 a->b ${g3} Gbit/s"
vnet_guest_exec b 'ethtool -l eth0' | grep -A4 "Current" | grep -q "Combined:.*2" || fail "guest b does not use 2 queue pairs"
q1=$("$bin/vnetctl" --ctl "$ctl" stats --json b | python3 -c '
import json,sys
r=json.load(sys.stdin)
q=[q for p in r["ports"] for q in p["queues"] if q["queue"]==1]
print(q[0]["rx_packets"] + q[0]["tx_packets"] if q else 0)')
[[ $q1 -gt 0 ]] || fail "no packets on queue pair 1 of the multiqueue guest"
echo "queue pair 1 of b carried $q1 packets"

step "4. guest <-> host kernel through the TAP port"
ping_ok a 10.77.0.254 || fail "ping guest -> host"
ip netns exec "$ns" ping -c 3 -W 2 10.77.0.1 >/dev/null || fail "ping host -> guest"
vnet_guest_wait_iperf a
out=$(ip netns exec "$ns" timeout 60 iperf3 -c 10.77.0.1 -t 3) || fail "iperf3 host -> guest: $out"
echo "$out" | grep receiver
vnet_guest_wait_iperf a
out=$(ip netns exec "$ns" timeout 60 iperf3 -c 10.77.0.1 -t 3 -R) || fail "iperf3 guest -> host: $out"
echo "$out" | grep receiver

step "4b. byte-exact TCP between guest and host, both ways (sha256 of 4 MiB)"
# iperf3 checks no payload, and a receiver trusting a DATA_VALID / offloaded checksum would
# not either: the bytes themselves are compared here.
blob_bytes=4194304
head -c "$blob_bytes" /dev/urandom >"$run/blob"
want=$(sha256sum "$run/blob" | cut -d' ' -f1)
vnet_guest_exec -t 90 a "nc -l -p 5002 >/tmp/in && sha256sum /tmp/in" >"$run/guest-in.sha" 2>&1 &
gin=$!
ip netns exec "$ns" timeout 60 python3 - "$run/blob" <<'PY' || fail "host -> guest: could not send the blob"
import socket, sys, time
data = open(sys.argv[1], "rb").read()
deadline = time.time() + 50
while True:  # the guest's nc may not listen yet
    try:
        s = socket.create_connection(("10.77.0.1", 5002), timeout=5)
        break
    except OSError:
        if time.time() > deadline: raise
        time.sleep(0.2)
s.sendall(data)
s.close()
PY
wait $gin || fail "host -> guest: guest side failed: $(cat "$run/guest-in.sha")"
got=$(awk '{print $1; exit}' "$run/guest-in.sha")
[[ $got == "$want" ]] || fail "host -> guest: 4 MiB arrived altered (sha256 $got, sent $want)"
rm -f "$run/host-in.ready"
ip netns exec "$ns" timeout 90 python3 - "$blob_bytes" "$run/host-in.ready" >"$run/host-in.sha" <<'PY' &
import hashlib, socket, sys
n, ready = int(sys.argv[1]), sys.argv[2]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("10.77.0.254", 5003))
srv.listen(1)
open(ready, "w").close()
c, _ = srv.accept()
h, got = hashlib.sha256(), 0
while got < n:  # exactly n bytes, then close: the guest's nc ends on our EOF
    b = c.recv(min(65536, n - got))
    if not b: break
    h.update(b)
    got += len(b)
c.close()
print(h.hexdigest() if got == n else f"short:{got}")
PY
hin=$!
for _ in $(seq 100); do [[ -e $run/host-in.ready ]] && break; sleep 0.1; done
sent=$(vnet_guest_exec -t 90 a "dd if=/dev/urandom of=/tmp/out bs=65536 count=64 2>/dev/null && sha256sum /tmp/out && nc 10.77.0.254 5003 </tmp/out >/dev/null") ||
    fail "guest -> host: guest side failed: $sent"
wait $hin || fail "guest -> host: host side failed"
[[ $(cat "$run/host-in.sha") == "$(awk '{print $1; exit}' <<<"$sent")" ]] ||
    fail "guest -> host: 4 MiB arrived altered (host $(cat "$run/host-in.sha"), guest $sent)"
echo "4 MiB both ways between guest a and the host: sha256 equal"

step "5. guest reboot: traffic resumes"
ready_before=$(grep -c VNET-GUEST-READY "$run/a.console.log")
vnet_guest_exec -t 5 a 'reboot -f' >/dev/null 2>&1 || true
for _ in $(seq 1200); do
    [[ $(grep -c VNET-GUEST-READY "$run/a.console.log") -gt $ready_before ]] && break
    sleep 0.1
done
[[ $(grep -c VNET-GUEST-READY "$run/a.console.log") -gt $ready_before ]] || fail "guest a did not come back after reboot"
wait_ping a 10.77.0.2 30 || fail "no traffic after guest reboot"
ping_ok a 10.77.0.2 || fail "loss after guest reboot"

step "6. vnetd restarted under running guests"
stop_vnetd
start_vnetd
# The tap was recreated in the root namespace by the new vnetd: move it again.
ip link set "$tap" netns "$ns"
ip -n "$ns" addr add 10.77.0.254/24 dev "$tap"
ip -n "$ns" link set "$tap" up
wait_ping a 10.77.0.2 60 || fail "no traffic between guests after vnetd restart"
ping_ok b 10.77.0.1 || fail "loss after vnetd restart"
ping_ok a 10.77.0.254 || fail "guest -> host after vnetd restart"
"$bin/vnetctl" --ctl "$ctl" stats

echo "PASS: guests through vnetd"
