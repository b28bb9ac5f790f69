// Device engine cost per packet: one forwarding thread moves bursts from guest A's TX ring to
// guest B's RX ring (TX pop + header parse, one copy into mergeable RX buffers, used rings,
// notification decisions) while a guest thread on the other core keeps A's TX ring full and B's
// RX ring stocked. 64 B and 1518 B frames. ns/packet is the forwarding thread's time per packet.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "device/guest_harness.h"
#include "device_traffic.h"

namespace vnet::device {
namespace {

void DeviceForward(benchmark::State& state) {
  const auto len = static_cast<uint32_t>(state.range(0));
  testing::GuestHarness a(bench::bench_sender()), b(bench::bench_receiver());
  VirtioNetDevice da(DeviceConfig{.name = "a"}), db(DeviceConfig{.name = "b"});
  a.attach(da);
  b.attach(db);
  da.tx_disable_notify(0);
  bench::Traffic traffic(a, b, len);
  traffic.step();

  std::atomic<bool> stop{false};
  std::thread guest([&] {
    while (!stop.load(std::memory_order_relaxed)) traffic.step();
  });

  uint64_t packets = 0, empty = 0;
  for (auto _ : state) {
    const uint16_t n = testing::forward_burst(da, db);
    packets += n;
    empty += n == 0;
  }
  stop = true;
  guest.join();

  const QueueStats rx = db.queue_stats(0);
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  state.SetBytesProcessed(static_cast<int64_t>(packets * len));
  state.counters["ns_per_pkt"] =
      benchmark::Counter(static_cast<double>(packets), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["pkts_per_burst"] = static_cast<double>(packets) / static_cast<double>(state.iterations());
  state.counters["empty_polls"] = static_cast<double>(empty);
  state.counters["rx_drops"] = static_cast<double>(rx.total_drops());
}
BENCHMARK(DeviceForward)->Arg(64)->Arg(1518)->UseRealTime()->MinTime(2.0);

// The device's own cost: the same step with the guest work done in between, untimed, so that
// every burst is full (32 packets) and only forward_burst() is on the clock.
void DeviceForwardCost(benchmark::State& state) {
  const auto len = static_cast<uint32_t>(state.range(0));
  testing::GuestHarness a(bench::bench_sender()), b(bench::bench_receiver());
  VirtioNetDevice da(DeviceConfig{.name = "a"}), db(DeviceConfig{.name = "b"});
  a.attach(da);
  b.attach(db);
  da.tx_disable_notify(0);
  bench::Traffic traffic(a, b, len);
  uint64_t packets = 0;
  for (auto _ : state) {
    traffic.step();
    const auto t0 = std::chrono::steady_clock::now();
    const uint16_t n = testing::forward_burst(da, db);
    const auto t1 = std::chrono::steady_clock::now();
    packets += n;
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  state.counters["ns_per_pkt"] =
      benchmark::Counter(static_cast<double>(packets), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["pkts_per_burst"] = static_cast<double>(packets) / static_cast<double>(state.iterations());
  state.counters["rx_drops"] = static_cast<double>(db.queue_stats(0).total_drops());
}
BENCHMARK(DeviceForwardCost)->Arg(64)->Arg(1518)->UseManualTime()->MinTime(2.0);

}  // namespace
}  // namespace vnet::device

BENCHMARK_MAIN();
