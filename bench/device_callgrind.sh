#!/bin/sh
# Instructions per forwarded packet of the device engine (TX pop + RX copy + used rings), from
# callgrind, for 64 B and 1518 B frames. Usage: bench/device_callgrind.sh [build/release/bin]
set -eu
bin=${1:-build/release/bin}
out=$(mktemp -d)
for len in 64 1518; do
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$len" --collect-atstart=no \
    --toggle-collect='*forward_step*' "$bin/device_callgrind" "$len" 200000 >"$out/log.$len" 2>&1
  pkts=$(sed -n 's/.*packets=\([0-9]*\).*/\1/p' "$out/log.$len")
  ir=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$out/cg.$len")
  echo "frame ${len} B: ${ir} Ir / ${pkts} packets = $((ir / pkts)) instructions/packet"
done
rm -rf "$out"
