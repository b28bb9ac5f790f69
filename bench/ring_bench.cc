// Split ring cost per buffer, with the other side running in its own thread:
//  - DriverAddGetBuf: this thread adds 1-segment buffers and reaps completions while a device
//    thread pops and completes them;
//  - DevicePopPush: this thread pops, completes and publishes while a driver thread keeps the
//    ring full.
// Notifications are off (both sides poll), as in vnetd busy mode.
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "virtio/ring_fixture.h"

namespace vnet::virtio {
namespace {

using testing::RingMemory;
constexpr uint16_t kQueue = 256;
int token;

void DriverAddGetBuf(benchmark::State& state) {
  RingMemory m(kQueue, 1 << 20);
  SplitRingDriver drv(m.driver_config(true, true));
  std::atomic<bool> stop{false};
  std::thread device([&] {
    SplitRingDevice dev;
    dev.configure(m.device_config(true));
    Chain c;
    unsigned batch = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      if (dev.pop(*m.table, c) == PopStatus::chain) {
        dev.push_used(c.head, 0);
        if (++batch == 32) {
          dev.publish_used();
          batch = 0;
        }
      } else if (batch) {
        dev.publish_used();
        batch = 0;
      }
    }
  });
  Segment seg{m.data_gpa(), 64};
  uint64_t done = 0;
  for (auto _ : state) {
    while (drv.add(std::span(&seg, 1), {}, &token) != AddStatus::ok) {
      while (drv.get_buf()) ++done;
    }
    benchmark::DoNotOptimize(drv.kick_prepare());
    if (auto u = drv.get_buf()) ++done;
  }
  stop = true;
  device.join();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["ns_per_buffer"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void DevicePopPush(benchmark::State& state) {
  RingMemory m(kQueue, 1 << 20);
  std::atomic<bool> stop{false};
  std::thread driver([&] {
    SplitRingDriver drv(m.driver_config(true, true));
    Segment seg{m.data_gpa(), 64};
    while (!stop.load(std::memory_order_relaxed)) {
      while (drv.get_buf()) {
      }
      while (drv.add(std::span(&seg, 1), {}, &token) == AddStatus::ok) {
      }
    }
  });
  SplitRingDevice dev;
  dev.configure(m.device_config(true));
  Chain c;
  unsigned batch = 0;
  for (auto _ : state) {
    while (dev.pop(*m.table, c) != PopStatus::chain) {
      if (batch) {
        dev.publish_used();
        batch = 0;
      }
    }
    dev.push_used(c.head, 0);
    if (++batch == 32) {
      dev.publish_used();
      benchmark::DoNotOptimize(dev.need_notify());
      batch = 0;
    }
  }
  dev.publish_used();
  stop = true;
  driver.join();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["ns_per_buffer"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(DriverAddGetBuf)->UseRealTime();
BENCHMARK(DevicePopPush)->UseRealTime();

}  // namespace
}  // namespace vnet::virtio

BENCHMARK_MAIN();
