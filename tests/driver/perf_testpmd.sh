#!/bin/sh
# Throughput through DPDK testpmd: vnet-perf tx -> net_vhost0 -> io forwarding -> net_vhost1 ->
# vnet-perf rx. Prints both RESULT lines per frame size. Not a ctest (numbers, not pass/fail).
#   tests/driver/perf_testpmd.sh [BIN_DIR] [DURATION] [SIZES...]
# Default BIN_DIR build/release/bin. Extra vnet-perf flags via VNET_PERF_FLAGS (e.g. --interrupt).
set -eu
BIN=${1:-build/release/bin}
DUR=${2:-5}
shift 2 2>/dev/null || true
SIZES=${*:-64 1518}
command -v dpdk-testpmd >/dev/null || { echo "FAIL: dpdk-testpmd not installed" >&2; exit 1; }
DIR=$(mktemp -d /tmp/vnet-perf-testpmd-XXXXXX)
PREFIX=vnetperf-$$
TP=
cleanup() {
  if [ -n "$TP" ]; then
    kill -INT "$TP" 2>/dev/null || true
    sleep 1
    kill -KILL "$TP" 2>/dev/null || true
  fi
  rm -rf "/var/run/dpdk/$PREFIX"; [ -n "${KEEP:-}" ] && echo "kept $DIR" || rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
timeout $((DUR * 4 + 60)) dpdk-testpmd --no-pci --no-huge -m 256 --file-prefix=$PREFIX -l 0,1 \
  --vdev "net_vhost0,iface=$DIR/s0,queues=1" --vdev "net_vhost1,iface=$DIR/s1,queues=1" -- \
  --total-num-mbufs=32768 --stats-period 1 --forward-mode=io </dev/null >"$DIR/testpmd.log" 2>&1 &
TP=$!
for i in $(seq 100); do [ -S "$DIR/s1" ] && [ -S "$DIR/s0" ] && break; sleep 0.1; done
for size in $SIZES; do
  timeout $((DUR + 30)) "$BIN/vnet-perf" --connect "$DIR/s1" --mode rx --duration $((DUR + 2)) --idle-timeout 1 \
    --quiet --queue-size 1024 ${VNET_PERF_FLAGS:-} >"$DIR/rx.out" 2>&1 &
  RX=$!
  sleep 0.5
  timeout $((DUR + 30)) "$BIN/vnet-perf" --connect "$DIR/s0" --mode tx --size "$size" --duration "$DUR" --quiet \
    --queue-size 1024 ${VNET_PERF_FLAGS:-} >"$DIR/tx.out" 2>&1
  wait $RX || true
  echo "size=$size"
  grep RESULT "$DIR/tx.out" || cat "$DIR/tx.out"
  grep RESULT "$DIR/rx.out" || cat "$DIR/rx.out"
done
