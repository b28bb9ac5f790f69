#!/usr/bin/env bash
# Our userspace driver (vnet-perf) against our own back-end (vnetd), two vhost-user ports on
# one bridge: frames of 60 to 9000 bytes with and without MRG_RXBUF (and without EVENT_IDX /
# INDIRECT) arrive complete and uncorrupted, vnetd's packet and byte counters agree with what
# vnet-perf sent and received, and neither side saw an error. Two more ports with two queue pairs
# each (VLAN 2, so they share no traffic with the first two) carry a --queues 2 run on both
# ends. Pingpong through the switch works and its human-readable output (progress lines, RESULT
# line) has the documented keys. Last, vnetd dies under a running vnet-perf, which must notice
# and fail with a clear message instead of idling until --duration. Each case reconnects the
# front-ends (port reuse). Only counters and correctness are checked, never rates.
# Usage: vnet_perf_through_vnetd.sh BIN_DIR
set -euo pipefail
bin=${1:?usage: $0 BIN_DIR}
run=$(mktemp -d /tmp/vnet-perf-e2e.XXXXXX)
ctl=$run/ctl.sock
vnetd_pid=
fail() { echo "FAIL: $*" >&2; "$bin/vnetctl" --ctl "$ctl" stats >&2 || true; exit 1; }
cleanup() {
    [[ -n $vnetd_pid ]] && { kill -TERM "$vnetd_pid" 2>/dev/null; wait "$vnetd_pid" 2>/dev/null || true; }
    jobs -p | xargs -r kill -KILL 2>/dev/null || true
    rm -rf "$run"
}
trap cleanup EXIT

# Two poll threads, so that the queues of the two-queue ports can be served by different threads
# (and a stream may reach the receiver on either of its queues).
"$bin/vnetd" --ctl "$ctl" --pmd-threads 2 --port "vhost-user:$run/a.sock" --port "vhost-user:$run/b.sock" \
    --port "vhost-user:$run/c.sock,queues=2,vlan=2" --port "vhost-user:$run/d.sock,queues=2,vlan=2" >"$run/vnetd.log" 2>&1 &
vnetd_pid=$!
for _ in $(seq 100); do [[ -S $ctl ]] && break; sleep 0.1; done
[[ -S $ctl ]] || fail "vnetd did not start"

port_state() {  # port_state NAME... -> state column of vnetctl show, one word per port
    "$bin/vnetctl" --ctl "$ctl" show --json | python3 -c "
import json,sys
st = {p['name']: p['state'] for p in json.load(sys.stdin)['ports']}
print(' '.join(st[n] for n in sys.argv[1:]))" "$@"
}
wait_running() {
    for _ in $(seq 100); do [[ $(port_state "$1") == running ]] && return 0; sleep 0.1; done
    fail "port $1 did not reach state running"
}
field() {  # field JSON_FILE KEY
    python3 -c "import json,sys; print(json.load(open('$1'))['$2'])"
}

# One tx -> rx run: both ran on QUEUES queue pairs, COUNT frames sent and received whole, none
# lost, and neither side saw an error (driver ring / length / frame errors, drops, corrupt
# frames). Prints the sender's tx_bytes and the receiver's rx_bytes.
check_run() {  # check_run WHAT COUNT QUEUES
    python3 - "$run/tx.json" "$run/rx.json" "$2" "$3" <<'PY' || fail "$1: $(cat "$run/tx.json" "$run/rx.json")"
import json, sys
tx, rx = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
count, queues = int(sys.argv[3]), int(sys.argv[4])
problems = []
if tx["tx_packets"] != count: problems.append(f"sent {tx['tx_packets']} of {count}")
if rx["rx_packets"] != count: problems.append(f"received {rx['rx_packets']} of {count}")
for side, r in (("tx", tx), ("rx", rx)):
    if r["queues"] != queues: problems.append(f"{side} ran on {r['queues']} queue pair(s), not {queues}")
    for k in ("errors", "ring_errors", "rx_length_errors", "rx_frame_errors", "corrupt", "lost"):
        if r[k] != 0: problems.append(f"{side} {k}={r[k]}")
if problems:
    print("; ".join(problems), file=sys.stderr)
    sys.exit(1)
print(tx["tx_bytes"], rx["rx_bytes"])
PY
}

# A vhost-user back-end drops what a full RX ring cannot take (vnetd: tx_no_rx_buffer), and on a
# loaded machine the receiver may not run for a while. So every receiver's ring(s) can hold all
# the frames of its case without being refilled (500 frames of 9000 bytes are 2500 mergeable
# 2 KiB buffers; 1000 frames over --queues 2 may all land on one queue): a drop is a bug, not
# scheduling.
total=0 tx_bytes=0 rx_bytes=0
one_way() {  # one_way SIZE COUNT EXTRA_FLAGS...
    local size=$1 count=$2; shift 2
    "$bin/vnet-perf" --connect "$run/b.sock" --mode rx --count "$count" --idle-timeout 10 --duration 60 \
        --interrupt --quiet --mtu 9000 --queue-size 4096 --json "$@" >"$run/rx.json" 2>"$run/rx.err" &
    local rx=$!
    wait_running b
    "$bin/vnet-perf" --connect "$run/a.sock" --mode tx --count "$count" --size "$size" --rate 5000 \
        --interrupt --quiet --mtu 9000 --json "$@" >"$run/tx.json" 2>"$run/tx.err" || fail "tx size $size $*: $(cat "$run/tx.err")"
    wait $rx || fail "rx size $size $*: $(cat "$run/rx.err")"
    local bytes
    bytes=$(check_run "size $size $*" "$count" 1)
    echo "size $size ${*:-(all features)}: $count/$count frames, 0 lost, 0 corrupt, 0 errors"
    total=$((total + count))
    tx_bytes=$((tx_bytes + ${bytes% *}))
    rx_bytes=$((rx_bytes + ${bytes#* }))
    # Both front-ends are gone again before the next case.
    for _ in $(seq 100); do [[ $(port_state a b) == "waiting waiting" ]] && break; sleep 0.1; done
}

for size in 60 61 1518 4000 9000; do one_way "$size" 500; done
for size in 60 1518 9000; do one_way "$size" 500 --no-mrg-rxbuf; done
one_way 1000 500 --no-event-idx --no-indirect

# Counters: what a brought in and b delivered match, in packets and bytes, what vnet-perf sent
# and received; nothing dropped, no errors.
check_vnetd() {  # check_vnetd FROM_PORT TO_PORT PACKETS TX_BYTES RX_BYTES
    "$bin/vnetctl" --ctl "$ctl" stats --json >"$run/stats.json"
    python3 - "$run/stats.json" "$@" <<'PY' || fail "vnetd counters of $1 -> $2 disagree with vnet-perf's"
import json, sys
ports = {p["name"]: p for p in json.load(open(sys.argv[1]))["ports"]}
src, dst = ports[sys.argv[2]], ports[sys.argv[3]]
packets, tx_bytes, rx_bytes = (int(v) for v in sys.argv[4:7])
print(f"vnetd: {sys.argv[2]} rx {src['rx_packets']} pkts {src['rx_bytes']} B (vnet-perf sent {packets} pkts {tx_bytes} B), "
      f"{sys.argv[3]} tx {dst['tx_packets']} pkts {dst['tx_bytes']} B (vnet-perf received {rx_bytes} B), "
      f"drops {src['drops']}/{dst['drops']}, errors {src['errors']}/{dst['errors']}")
ok = (src["rx_packets"] == packets and dst["tx_packets"] == packets and src["rx_bytes"] == tx_bytes
      and dst["tx_bytes"] == rx_bytes and tx_bytes == rx_bytes
      and src["drops"] == 0 and dst["drops"] == 0 and src["errors"] == 0 and dst["errors"] == 0)
sys.exit(0 if ok else 1)
PY
}
check_vnetd a b "$total" "$tx_bytes" "$rx_bytes"

# --queues 2 on both ends (ports c and d have two queue pairs): both sides bring two queue pairs
# up, the sender's two streams arrive whole (on whichever receive queue vnetd picks), and c saw
# traffic on both of its queues.
"$bin/vnet-perf" --connect "$run/d.sock" --mode rx --queues 2 --count 1000 --idle-timeout 10 --duration 60 \
    --interrupt --quiet --queue-size 1024 --json >"$run/rx.json" 2>"$run/rx.err" &
rx=$!
wait_running d
"$bin/vnet-perf" --connect "$run/c.sock" --mode tx --queues 2 --count 1000 --size 200 --rate 10000 \
    --interrupt --quiet --json >"$run/tx.json" 2>"$run/tx.err" || fail "tx --queues 2: $(cat "$run/tx.err")"
wait $rx || fail "rx --queues 2: $(cat "$run/rx.err")"
bytes=$(check_run "--queues 2" 1000 2)
check_vnetd c d 1000 "${bytes% *}" "${bytes#* }"
python3 - "$run/stats.json" <<'PY' || fail "--queues 2: port c did not receive on both queues"
import json, sys
ports = {p["name"]: p for p in json.load(open(sys.argv[1]))["ports"]}
per_queue = [q["rx_packets"] for q in ports["c"]["queues"]]
delivered = [q["tx_packets"] for q in ports["d"]["queues"]]  # vnetd's choice: informative only
print(f"--queues 2: 1000/1000 frames, 0 lost, 0 errors on two queue pairs; port c rx per queue {per_queue}, d tx per queue {delivered}")
sys.exit(0 if len(per_queue) == 2 and all(n > 0 for n in per_queue) else 1)
PY

# Pingpong: b reflects, a measures latency through the switch. This run also checks the human
# output (no --json, no --quiet): it lasts > 2 s (--rate), so progress lines go to stderr, and the
# last stdout line is the RESULT line with its keys.
"$bin/vnet-perf" --connect "$run/b.sock" --mode fwd --duration 60 --idle-timeout 10 --interrupt --quiet --json >"$run/fwd.json" 2>"$run/fwd.err" &
fwd=$!
wait_running b
"$bin/vnet-perf" --connect "$run/a.sock" --mode pingpong --count 1000 --rate 400 --ping-timeout 5 --interrupt >"$run/ping.out" 2>"$run/ping.err" \
    || fail "pingpong: $(cat "$run/ping.err")"
kill -INT $fwd 2>/dev/null || true
wait $fwd || true
python3 - "$run/ping.out" "$run/ping.err" <<'PY' || fail "pingpong output: $(cat "$run/ping.out" "$run/ping.err")"
import re, sys
out = open(sys.argv[1]).read().splitlines()
err = open(sys.argv[2]).read().splitlines()
last = out[-1] if out else ""
assert last.startswith("RESULT "), f"last stdout line is not the RESULT line: {last!r}"
kv = dict(item.split("=", 1) for item in last.split()[1:])
for k in ("mode", "pps", "gbps", "errors", "lost", "pings", "replies", "lat_p50_us", "lat_p99_us", "lat_p999_us", "lat_max_us"):
    assert k in kv, f"RESULT line has no {k}="
assert kv["mode"] == "pingpong", kv["mode"]
for k in ("pps", "gbps", "lat_p50_us", "lat_p99_us", "lat_max_us"):
    float(kv[k])
assert int(kv["pings"]) == 1000 and int(kv["replies"]) == 1000, f"{kv['replies']} replies to {kv['pings']} pings"
assert int(kv["errors"]) == 0 and int(kv["lost"]) == 0, f"errors {kv['errors']} lost {kv['lost']}"
assert float(kv["lat_p50_us"]) > 0
progress = [l for l in err if re.match(r"^\[\s*\d+\.\ds\] tx .* \| rx .* \| lost \d+", l)]
assert progress, "no progress line on stderr"
print(f"pingpong: {kv['replies']}/{kv['pings']}, p50 {kv['lat_p50_us']} us, p99 {kv['lat_p99_us']} us, {len(progress)} progress line(s)")
PY

# The back-end dies under a running vnet-perf: it notices the hang-up, says so and exits 1 well
# before its --duration.
"$bin/vnet-perf" --connect "$run/b.sock" --mode rx --duration 120 --interrupt --quiet --json >"$run/rx.json" 2>"$run/rx.err" &
rx=$!
wait_running b
kill -KILL "$vnetd_pid"
wait "$vnetd_pid" 2>/dev/null || true
vnetd_pid=
for _ in $(seq 300); do kill -0 $rx 2>/dev/null || break; sleep 0.1; done
kill -0 $rx 2>/dev/null && fail "vnet-perf still runs 30 s after vnetd died"
code=0; wait $rx || code=$?
[[ $code -eq 1 ]] || fail "vnet-perf exited $code after vnetd died (want 1): $(cat "$run/rx.err")"
grep -q "hung up" "$run/rx.err" || fail "vnet-perf did not say the back-end hung up: $(cat "$run/rx.err")"
[[ $(field "$run/rx.json" mode) == rx ]] || fail "no result (counters so far) after the hang-up: $(cat "$run/rx.json")"
echo "back-end death: vnet-perf exited 1: $(grep "hung up" "$run/rx.err")"
echo "PASS: vnet-perf through vnetd"
