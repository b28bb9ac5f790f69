// Instructions per packet of the device forwarding step, for callgrind. Single-threaded: the
// guest work (Traffic::step) and the forwarding step alternate, and only forward_step() is
// measured:
//   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*forward_step*'
//            build/release/bin/device_callgrind 64 200000   (one command line)
// It prints the packet count; instructions/packet = the run's "Collected" Ir / packets
// (bench/device_callgrind.sh does the arithmetic).
#include <cstdio>
#include <cstdlib>

#include "device/guest_harness.h"
#include "device_traffic.h"

namespace vnet::device {

[[gnu::noinline]] uint16_t forward_step(VirtioNetDevice& from, VirtioNetDevice& to) {
  return testing::forward_burst(from, to);
}

}  // namespace vnet::device

int main(int argc, char** argv) {
  using namespace vnet::device;
  const uint32_t len = argc > 1 ? static_cast<uint32_t>(std::atoi(argv[1])) : 64;
  const uint64_t want = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100000;
  testing::GuestHarness a(bench::bench_sender()), b(bench::bench_receiver());
  VirtioNetDevice da(DeviceConfig{.name = "a"}), db(DeviceConfig{.name = "b"});
  a.attach(da);
  b.attach(db);
  da.tx_disable_notify(0);
  bench::Traffic traffic(a, b, len);
  uint64_t packets = 0, bursts = 0;
  while (packets < want) {
    traffic.step();
    packets += forward_step(da, db);
    ++bursts;
  }
  std::printf("frame_len=%u packets=%llu bursts=%llu rx_drops=%llu\n", len, static_cast<unsigned long long>(packets),
              static_cast<unsigned long long>(bursts),
              static_cast<unsigned long long>(db.queue_stats(0).total_drops()));
  return 0;
}
