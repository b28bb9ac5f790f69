#!/usr/bin/env bash
# Our userspace driver (vnet-perf) against our own back-end (vnetd), two vhost-user ports on
# one bridge: frames of 60 to 9000 bytes with and without MRG_RXBUF (and without EVENT_IDX /
# INDIRECT) arrive complete and uncorrupted, vnetd's counters agree with what was sent, and
# pingpong through the switch works. Each case reconnects both front-ends (port reuse).
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

"$bin/vnetd" --ctl "$ctl" --port "vhost-user:$run/a.sock" --port "vhost-user:$run/b.sock" >"$run/vnetd.log" 2>&1 &
vnetd_pid=$!
for _ in $(seq 100); do [[ -S $ctl ]] && break; sleep 0.1; done
[[ -S $ctl ]] || fail "vnetd did not start"

port_state() {  # port_state NAME -> state column of vnetctl show
    "$bin/vnetctl" --ctl "$ctl" show --json | python3 -c "
import json,sys
print([p['state'] for p in json.load(sys.stdin)['ports'] if p['name']=='$1'][0])"
}
wait_running() {
    for _ in $(seq 100); do [[ $(port_state "$1") == running ]] && return 0; sleep 0.1; done
    fail "port $1 did not reach state running"
}
field() {  # field JSON_FILE KEY
    python3 -c "import json,sys; print(json.load(open('$1'))['$2'])"
}

total=0
one_way() {  # one_way SIZE COUNT EXTRA_FLAGS...
    local size=$1 count=$2; shift 2
    "$bin/vnet-perf" --connect "$run/b.sock" --mode rx --count "$count" --idle-timeout 10 --duration 60 \
        --interrupt --quiet --mtu 9000 --queue-size 1024 --json "$@" >"$run/rx.json" 2>"$run/rx.err" &
    local rx=$!
    wait_running b
    "$bin/vnet-perf" --connect "$run/a.sock" --mode tx --count "$count" --size "$size" --rate 5000 \
        --interrupt --quiet --mtu 9000 --json "$@" >"$run/tx.json" 2>"$run/tx.err" || fail "tx size $size $*: $(cat "$run/tx.err")"
    wait $rx || fail "rx size $size $*: $(cat "$run/rx.err")"
    local got lost corrupt
    got=$(field "$run/rx.json" rx_packets); lost=$(field "$run/rx.json" lost); corrupt=$(field "$run/rx.json" corrupt)
    [[ $got -eq $count && $lost -eq 0 && $corrupt -eq 0 ]] || fail "size $size $*: received $got of $count, lost $lost, corrupt $corrupt"
    echo "size $size ${*:-(all features)}: $got/$count frames, 0 lost, 0 corrupt"
    total=$((total + count))
    # Both front-ends are gone again before the next case.
    for _ in $(seq 100); do [[ $(port_state b) == waiting && $(port_state a) == waiting ]] && break; sleep 0.1; done
}

for size in 60 61 1518 4000 9000; do one_way "$size" 500; done
for size in 60 1518 9000; do one_way "$size" 500 --no-mrg-rxbuf; done
one_way 1000 500 --no-event-idx --no-indirect

# Counters: what a brought in and b delivered match what was sent, nothing dropped.
"$bin/vnetctl" --ctl "$ctl" stats --json >"$run/stats.json"
python3 - "$run/stats.json" "$total" <<'PY' || fail "vnetd counters disagree with what was sent"
import json, sys
ports = {p["name"]: p for p in json.load(open(sys.argv[1]))["ports"]}
total = int(sys.argv[2])
a, b = ports["a"], ports["b"]
print(f"vnetd: a rx {a['rx_packets']}, b tx {b['tx_packets']}, drops a {a['drops']} b {b['drops']}, expected {total}")
sys.exit(0 if a["rx_packets"] == total and b["tx_packets"] == total and a["drops"] == 0 and b["drops"] == 0 else 1)
PY

# Pingpong: b reflects, a measures latency through the switch.
"$bin/vnet-perf" --connect "$run/b.sock" --mode fwd --duration 30 --idle-timeout 5 --interrupt --quiet --json >"$run/fwd.json" 2>"$run/fwd.err" &
fwd=$!
wait_running b
"$bin/vnet-perf" --connect "$run/a.sock" --mode pingpong --count 1000 --interrupt --quiet --json >"$run/ping.json" 2>"$run/ping.err" || fail "pingpong: $(cat "$run/ping.err")"
kill -INT $fwd 2>/dev/null || true
wait $fwd || true
pings=$(field "$run/ping.json" pings); replies=$(field "$run/ping.json" replies)
[[ $pings -eq 1000 && $replies -eq 1000 ]] || fail "pingpong: $replies replies to $pings pings"
echo "pingpong: $replies/$pings, p50 $(field "$run/ping.json" lat_p50_us) us, p99 $(field "$run/ping.json" lat_p99_us) us"
echo "PASS: vnet-perf through vnetd"
