#!/usr/bin/env bash
# vnetd and vnetctl as processes, through the real control socket:
#   - `show`: every table's columns line up; `show --json` parses
#   - add-port / del-port of a TAP and a vhost-user port; errors of the daemon reach the user
#     with a non-zero exit (unknown port, bad spec, bad settings)
#   - set aging / log-level / poll-mode, read back through show --json
#   - stats --json carries the software offload counters and per-queue drop reasons
#   - ports added and deleted while two namespaces ping each other through the bridge: no
#     ping is lost
#   - the same pings in each poll mode (busy, interrupt, adaptive, switched with `set
#     poll-mode`): no ping is lost, show --json reports the mode
#   - one of the two TAP ports deleted while a ping runs against it: vnetd stays up, the port
#     and its tap interface are gone, the other port's totals equal its queues' sums
#   - SIGINT: vnetd exits 0 and removes its sockets
# Needs root, /dev/net/tun, ip netns, ping and python3; fails with the reason otherwise.
# Usage: vnetctl_test.sh BIN_DIR
set -euo pipefail
bin=${1:?usage: $0 BIN_DIR}

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "=== $*"; }
[[ $(id -u) -eq 0 ]] || fail "needs root (TAP devices, network namespaces)"
[[ -c /dev/net/tun ]] || fail "no /dev/net/tun"
ip netns list >/dev/null 2>&1 || fail "ip netns does not work here (iproute2, scripts/deps)"
command -v ping >/dev/null || fail "ping not installed (iputils-ping, scripts/deps)"
command -v python3 >/dev/null || fail "python3 not installed (scripts/deps)"
[[ -x $bin/vnetd && -x $bin/vnetctl ]] || fail "no vnetd/vnetctl in $bin (build the vnetd and vnetctl targets)"

# Unique names (interface names: at most 15 bytes), so that leftovers of a killed run never
# collide with this one.
id=$$
run=$(mktemp -d /tmp/vnetctl-test.XXXXXX)
ctl=$run/vnetd.sock
ns1=vct${id}n1 ns2=vct${id}n2
tapa=vct${id}a tapb=vct${id}b tapc=vct${id}c tapx=vct${id}x
vnetd_pid=

cleanup() {
    local rc=$?
    if ((rc != 0)); then echo "--- vnetd log (tail)"; tail -n 40 "$run/vnetd.log" 2>/dev/null || true; fi
    if [[ -n $vnetd_pid ]]; then kill -KILL "$vnetd_pid" 2>/dev/null || true; fi
    ip netns del "$ns1" 2>/dev/null || true
    ip netns del "$ns2" 2>/dev/null || true
    for t in "$tapa" "$tapb" "$tapc" "$tapx"; do ip link del "$t" 2>/dev/null || true; done
    rm -rf "$run"
}
trap cleanup EXIT

vctl() { timeout 20 "$bin/vnetctl" --ctl "$ctl" "$@"; }
# jpath JSON_FILE PYTHON_EXPR: prints the expression evaluated with r = the parsed file.
jpath() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }
# must_fail WHAT EXPECTED_TEXT -- ARGS: vnetctl ARGS exits non-zero and prints EXPECTED_TEXT.
must_fail() {
    local what=$1 expect=$2; shift 3
    local out rc=0
    out=$(vctl "$@" 2>&1) || rc=$?
    ((rc != 0)) || fail "$what: exit 0 (output: $out)"
    grep -qF -- "$expect" <<<"$out" || fail "$what: expected '$expect' in: $out"
    echo "ok: $what -> exit $rc: $out"
}
wait_for() {  # wait_for SECONDS WHAT CMD...: until CMD succeeds
    local secs=$1 what=$2; shift 2
    local end=$((SECONDS + secs))
    until "$@"; do ((SECONDS < end)) || fail "$what (waited ${secs} s)"; sleep 0.1; done
}

step "start vnetd"
cat >"$run/vnetd.toml" <<EOF
[daemon]
ctl = "$ctl"
log_level = "info"

[datapath]
pmd_threads = 1
poll_mode = "adaptive"

[[bridge]]
name = "br0"
aging_seconds = 300

[[port]]
type = "vhost-user"
name = "vm1"
path = "$run/vm1.sock"
queues = 2
EOF
"$bin/vnetd" --config "$run/vnetd.toml" >"$run/vnetd.log" 2>&1 &
vnetd_pid=$!
up() { kill -0 "$vnetd_pid" 2>/dev/null || { cat "$run/vnetd.log"; fail "vnetd exited at start"; }; [[ -S $ctl ]] && vctl show >/dev/null 2>&1; }
wait_for 30 "vnetd did not come up" up
[[ -S $run/vm1.sock ]] || fail "vhost-user socket $run/vm1.sock not created"

# Every table of `show`: the header's column start positions hold in every row (the two
# spaces before each column are blank, each cell lies inside its column and is not empty,
# left-aligned cells start at the column, right-aligned numbers end at its last character).
check_tables() {
    python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = [b for b in text.split("\n\n") if b.strip()]
if not blocks[0].startswith("vnetd: "):
    sys.exit(f"no summary line: {blocks[0]!r}")
tables = blocks[1:]
if len(tables) != 3:
    sys.exit(f"expected 3 tables (ports, threads, bridges), got {len(tables)}:\n{text}")
for t in tables:
    lines = t.split("\n")
    lines = [l for l in lines if l]
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", header)]
    names = header.split()
    if len(starts) != len(names):
        sys.exit(f"header columns not separated by two spaces: {header!r}")
    for row in lines[1:]:
        for i, p in enumerate(starts):
            end = starts[i + 1] - 2 if i + 1 < len(starts) else max(len(row), p + 1)
            if i > 0 and row[p - 2:p] != "  ":
                sys.exit(f"column {names[i]} does not start at {p} in row {row!r} (header {header!r})")
            cell = row[p:end]
            if not cell.strip():
                sys.exit(f"empty cell {names[i]} in row {row!r}")
            if i + 1 < len(starts) and cell[0] == " " and cell[-1] == " ":
                sys.exit(f"cell {names[i]} neither left nor right aligned in row {row!r}")
    print(f"aligned: {names[0]} table, {len(lines) - 1} row(s)")
PY
}
show_has() {  # show_has NAME: the port is in show (table and JSON)
    vctl show >"$run/show.txt" && awk 'NR>2 && $1 == "'"$1"'" {found=1} END {exit !found}' "$run/show.txt" &&
        vctl show --json >"$run/show.json" && [[ $(jpath "$run/show.json" "any(p['name']=='$1' for p in r['ports'])") == True ]]
}
show_lacks() {  # show_lacks NAME
    vctl show >"$run/show.txt" && ! awk 'NR>2 && $1 == "'"$1"'" {found=1} END {exit !found}' "$run/show.txt" &&
        vctl show --json >"$run/show.json" && [[ $(jpath "$run/show.json" "any(p['name']=='$1' for p in r['ports'])") == False ]]
}

step "show: aligned tables, JSON"
vctl show >"$run/show.txt"
cat "$run/show.txt"
check_tables "$run/show.txt" || fail "vnetctl show: misaligned table"
vctl show --json >"$run/show.json"
python3 - "$run/show.json" <<'PY' || fail "show --json: missing or wrong keys"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["poll_mode"] == "adaptive", r["poll_mode"]
assert [p["name"] for p in r["ports"]] == ["vm1"], r["ports"]
for k in ("name", "type", "bridge", "vlan", "state", "queues", "spec"):
    assert k in r["ports"][0], k
assert r["ports"][0]["state"] == "waiting", r["ports"][0]
assert len(r["threads"]) == 1, r["threads"]
b = r["bridges"][0]
for k in ("name", "fdb_entries", "fdb_capacity", "aging_seconds", "port_count", "unknown_ingress", "learn_fail",
          "learn_fail_limit_bridge", "learn_fail_limit_port", "learn_fail_table_full", "fdb_capacity_per_port"):
    assert k in b, k
assert b["name"] == "br0" and b["aging_seconds"] == 300 and b["port_count"] == 1, b
PY
grep -q "^BRIDGE .*LEARN_FAIL" "$run/show.txt" || fail "show has no bridges table"

step "add-port / del-port"
vctl add-port "tap:$tapx"
vctl add-port "vhost-user:$run/vm2.sock,name=vm2,queues=2"
wait_for 10 "tap port $tapx not in show" show_has "$tapx"
show_has vm2 || fail "vhost-user port vm2 not in show"
[[ -S $run/vm2.sock ]] || fail "vm2's socket was not created"
ip link show "$tapx" >/dev/null 2>&1 || fail "tap interface $tapx was not created"
vctl show >"$run/show.txt"
cat "$run/show.txt"
check_tables "$run/show.txt" || fail "vnetctl show with 3 ports: misaligned table"
vctl del-port "$tapx"
vctl del-port vm2
show_lacks "$tapx" || fail "$tapx still in show after del-port"
show_lacks vm2 || fail "vm2 still in show after del-port"
[[ ! -e $run/vm2.sock ]] || fail "vm2's socket left behind by del-port"
tap_gone() { ! ip link show "$tapx" >/dev/null 2>&1; }
wait_for 10 "tap interface $tapx left behind by del-port" tap_gone

step "errors reach the user"
must_fail "del-port of an unknown port" "no port named 'nosuch$id'" -- del-port "nosuch$id"
must_fail "add-port with a bad spec" "unknown port type 'bogus'" -- add-port "bogus:thing"
must_fail "add-port with a bad option" "unknown option" -- add-port "tap:$tapx,colour=red"
must_fail "add-port of an existing name" "exists already" -- add-port "vhost-user:$run/other.sock,name=vm1"
must_fail "set aging 0" "aging must be" -- set aging 0
must_fail "set log-level bogus" "log-level must be" -- set log-level bogus
must_fail "set poll-mode sideways" "sideways" -- set poll-mode sideways
must_fail "set unknown key" "unknown setting" -- set colour red
show_lacks "$tapx" || fail "a failed add-port left port $tapx behind"

step "set"
vctl set aging 42
vctl set log-level debug
vctl set poll-mode interrupt
vctl show --json >"$run/show.json"
[[ $(jpath "$run/show.json" "r['bridges'][0]['aging_seconds']") == 42 ]] || fail "set aging 42 not in show --json"
[[ $(jpath "$run/show.json" "r['poll_mode']") == interrupt ]] || fail "set poll-mode interrupt not in show --json"
vctl set poll-mode adaptive
vctl set log-level info

step "traffic through two TAP ports while a third comes and goes"
vctl add-port "tap:$tapa,name=pa"
vctl add-port "tap:$tapb,name=pb"
for pair in "$ns1 $tapa 10.77.9.1" "$ns2 $tapb 10.77.9.2"; do
    read -r ns tap addr <<<"$pair"
    ip netns add "$ns"
    ip link set "$tap" netns "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip -n "$ns" addr add "$addr/24" dev "$tap"
    ip -n "$ns" link set "$tap" up
    ip -n "$ns" link set lo up
done
first_ping() { ip netns exec "$ns1" ping -c 1 -W 1 10.77.9.2 >/dev/null 2>&1; }
wait_for 20 "no ping through vnetd between $ns1 and $ns2" first_ping
ip netns exec "$ns1" ping -q -c 200 -i 0.01 -W 5 10.77.9.2 >"$run/ping.txt" 2>&1 &
ping_pid=$!
cycles=0
while kill -0 "$ping_pid" 2>/dev/null || ((cycles == 0)); do
    vctl add-port "tap:$tapc,name=pc" >/dev/null
    vctl del-port pc >/dev/null
    cycles=$((cycles + 1))
done
wait "$ping_pid" || true
cat "$run/ping.txt"
grep -q "200 packets transmitted, 200 received" "$run/ping.txt" ||
    fail "pings lost while port pc was added and deleted $cycles time(s)"
echo "ok: 200/200 pings while a port was added and deleted $cycles time(s)"

# Frames counted by vnetd: "PORT_rx PORT_tx ..." for the given ports (rx: into the switch).
port_packets() {
    vctl stats --json >"$run/pkts.json" &&
        python3 - "$run/pkts.json" "$@" <<'PY'
import json, sys
ports = {p["name"]: p for p in json.load(open(sys.argv[1]))["ports"]}
print(" ".join(f'{ports[n]["rx_packets"]} {ports[n]["tx_packets"]}' for n in sys.argv[2:]))
PY
}

step "traffic in every poll mode (the poll thread runs the TAP ports busy, interrupt, adaptive)"
for mode in busy interrupt adaptive; do
    vctl set poll-mode "$mode"
    vctl show --json >"$run/show.json"
    [[ $(jpath "$run/show.json" "r['poll_mode']") == "$mode" ]] || fail "show --json does not report poll mode $mode"
    read -r pa_rx0 pa_tx0 pb_rx0 pb_tx0 <<<"$(port_packets pa pb)"
    timeout 30 ip netns exec "$ns1" ping -q -c 100 -i 0.01 -W 5 10.77.9.2 >"$run/ping_$mode.txt" 2>&1 || true
    cat "$run/ping_$mode.txt"
    grep -q "100 packets transmitted, 100 received" "$run/ping_$mode.txt" || fail "pings lost in poll mode $mode"
    # Through vnetd, both ways: requests in at pa and out at pb, replies in at pb and out at pa.
    read -r pa_rx1 pa_tx1 pb_rx1 pb_tx1 <<<"$(port_packets pa pb)"
    for d in "pa_rx $pa_rx0 $pa_rx1" "pa_tx $pa_tx0 $pa_tx1" "pb_rx $pb_rx0 $pb_rx1" "pb_tx $pb_tx0 $pb_tx1"; do
        read -r what before after <<<"$d"
        ((after - before >= 100)) || fail "poll mode $mode: $what grew by $((after - before)), not by the 100 pings"
    done
    [[ $(vctl show --json | python3 -c "import json,sys; print(json.load(sys.stdin)['poll_mode'])") == "$mode" ]] ||
        fail "poll mode changed from $mode by itself"
    echo "ok: poll mode $mode: 100/100 pings, pa rx +$((pa_rx1 - pa_rx0)) pb tx +$((pb_tx1 - pb_tx0))"
done

step "stats"
vctl stats --json >"$run/stats.json"
python3 - "$run/stats.json" <<'PY' || fail "stats --json: missing keys or wrong counts"
import json, sys
ports = {p["name"]: p for p in json.load(open(sys.argv[1]))["ports"]}
assert set(ports) == {"vm1", "pa", "pb"}, list(ports)
sw = ("sw_checksums", "sw_gso_frames", "sw_segments")
for name, p in ports.items():
    for k in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "drops", "errors", "drop_reasons", "error_reasons",
              "bridge", "queues") + sw:
        assert k in p, (name, k)
    assert p["queues"], name
    for q in p["queues"]:
        for k in ("queue", "rx_packets", "tx_packets", "drops", "errors", "drop_reasons", "error_reasons") + sw:
            assert k in q, (name, q["queue"], k)
        assert q["drops"] == sum(q["drop_reasons"].values()), (name, q)
    for k, v in p["drop_reasons"].items():
        if not k.startswith("switch_"):
            assert v == sum(q["drop_reasons"][k] for q in p["queues"]), (name, k)
    for k in sw:
        assert p[k] == sum(q[k] for q in p["queues"]), (name, k)
vm1 = ports["vm1"]
assert len(vm1["queues"]) == 2, vm1["queues"]
for q in vm1["queues"]:
    for k in ("kicks", "calls", "empty_polls", "busy_polls"):
        assert q[k] == q["rx_" + k] + q["tx_" + k], (q["queue"], k)
    for k in ("rx_no_rx_buffer", "tx_no_rx_buffer", "rx_bad_offload", "tx_too_big"):
        assert k in q["drop_reasons"], k
assert "tx_kernel_busy" in ports["pa"]["queues"][0]["drop_reasons"]
# The pings went through: pa brought them in, pb delivered them.
assert ports["pa"]["rx_packets"] >= 200 and ports["pb"]["tx_packets"] >= 200, (ports["pa"], ports["pb"])
print("stats --json: ok; pa rx", ports["pa"]["rx_packets"], "pb tx", ports["pb"]["tx_packets"])
PY
vctl stats >"$run/stats.txt"
cat "$run/stats.txt"
head -1 "$run/stats.txt" | grep -q "DROPS.*SW_CSUM.*SW_GSO.*SW_SEGS" || fail "stats table lacks DROPS/SW_* columns"
vctl stats vm1 >"$run/stats_vm1.txt"
cat "$run/stats_vm1.txt"
grep -q "^QUEUE .*KICKS.*CALLS.*EMPTY_POLLS.*BUSY_POLLS" "$run/stats_vm1.txt" || fail "stats vm1: no per-direction table"
grep -q "^queue 1: drops:" "$run/stats_vm1.txt" || fail "stats vm1: no per-queue drop line"
must_fail "stats of an unknown port" "no port named" -- stats "nosuch$id"

step "del-port of a TAP port while a ping runs against it"
read -r _ pb_tx0 <<<"$(port_packets pb)"
timeout 30 ip netns exec "$ns1" ping -q -c 200 -i 0.01 -W 1 10.77.9.2 >"$run/ping_del.txt" 2>&1 &
ping_pid=$!
pb_busy() { read -r _ t <<<"$(port_packets pb)" && ((t - pb_tx0 >= 20)); }
wait_for 20 "the ping did not get through before the delete" pb_busy
kill -0 "$ping_pid" 2>/dev/null || fail "the ping ended before del-port (machine too slow?)"
vctl del-port pb
kill -0 "$ping_pid" 2>/dev/null || echo "note: the ping ended while del-port ran"
wait "$ping_pid" || true  # losses after the delete are expected
cat "$run/ping_del.txt"
kill -0 "$vnetd_pid" 2>/dev/null || fail "vnetd died when port pb was deleted under traffic"
show_lacks pb || fail "pb still in show after del-port"
show_has pa || fail "pa vanished from show when pb was deleted"
tapb_gone() { ! ip -n "$ns2" link show "$tapb" >/dev/null 2>&1 && ! ip link show "$tapb" >/dev/null 2>&1; }
wait_for 10 "tap interface $tapb left behind by del-port" tapb_gone
received=$(sed -n 's/.* packets transmitted, \([0-9]*\) received.*/\1/p' "$run/ping_del.txt")
[[ -n $received ]] || fail "no ping summary"
((received >= 20)) || fail "only $received replies, though pb carried 20 before the delete"
vctl stats --json >"$run/stats.json"
python3 - "$run/stats.json" "$received" <<'PY' || fail "stats --json after deleting pb under traffic: inconsistent"
import json, sys
ports = {p["name"]: p for p in json.load(open(sys.argv[1]))["ports"]}
assert set(ports) == {"vm1", "pa"}, list(ports)
pa = ports["pa"]
qs = pa["queues"]
assert qs, pa
for k in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "errors", "sw_checksums", "sw_gso_frames", "sw_segments"):
    assert pa[k] == sum(q[k] for q in qs), (k, pa[k], [q[k] for q in qs])
switch = {k: v for k, v in pa["drop_reasons"].items() if k.startswith("switch_")}
for k, v in pa["drop_reasons"].items():
    if k not in switch:
        assert v == sum(q["drop_reasons"][k] for q in qs), (k, v)
assert pa["drops"] == sum(q["drops"] for q in qs) + sum(switch.values()), (pa["drops"], switch)
for q in qs:
    assert q["drops"] == sum(q["drop_reasons"].values()), q
    assert q["errors"] == sum(q["error_reasons"].values()), q
# Every ping so far went in at pa, every reply out of pa: 200 + 3 x 100 + this run's replies.
assert pa["rx_packets"] >= 500 + int(sys.argv[2]) and pa["tx_packets"] >= 500 + int(sys.argv[2]), pa
print("ok: pa consistent after pb's delete: rx", pa["rx_packets"], "tx", pa["tx_packets"], "drops", pa["drops"])
PY
vctl show >/dev/null || fail "vnetd does not answer after the delete"

step "SIGINT stops vnetd"
kill -INT "$vnetd_pid"
# A watchdog kills a vnetd that does not stop, so that `wait` (which returns the exit status)
# cannot hang.
( sleep 20 & s=$!; trap 'kill $s; exit 0' TERM; wait $s; kill -KILL "$vnetd_pid" ) >/dev/null 2>&1 &
watchdog=$!
rc=0
wait "$vnetd_pid" || rc=$?
vnetd_pid=
kill "$watchdog" 2>/dev/null || true
wait "$watchdog" 2>/dev/null || true
((rc != 137)) || fail "vnetd ignored SIGINT for 20 s (killed)"
((rc == 0)) || fail "vnetd exited with status $rc on SIGINT"
[[ ! -e $ctl ]] || fail "control socket $ctl left behind"
[[ ! -e $run/vm1.sock ]] || fail "vhost-user socket $run/vm1.sock left behind"
grep -q "vnetd: stopped" "$run/vnetd.log" || fail "vnetd log does not say it stopped"
echo "PASS"
