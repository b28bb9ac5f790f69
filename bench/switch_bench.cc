// Switch and poll-thread benchmarks with in-memory fake ports (tests/dataplane/fake_port.h):
//  - FDB lookup (hit / miss) and learn-refresh, ns per operation;
//  - Bridge::forward of 32-packet bursts of known unicast, ns per packet;
//  - poll thread + bridge end to end, busy vs adaptive, Mpps (one thread, generator source).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "base/cpu.h"
#include "dataplane/datapath.h"
#include "dataplane/fake_port.h"
#include "switch/bridge.h"

namespace {

using vnet::sw::Fdb;
using vnet::testing::FakePort;
using vnet::testing::make_frame;

void BM_FdbLookupHit(benchmark::State& state) {
  Fdb fdb(8192, 8192);
  const int n = static_cast<int>(state.range(0));
  std::vector<uint64_t> macs;
  std::mt19937_64 rng(1);
  for (int i = 0; i < n; ++i) {
    macs.push_back(rng() & 0xfeffffffffffull);
    (void)fdb.learn(1, macs.back(), static_cast<uint16_t>(i % 8), 0, 300000);
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(fdb.lookup(1, macs[i], 1, 300000));
    if (++i == macs.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FdbLookupHit)->Arg(16)->Arg(4096);

void BM_FdbLookupMiss(benchmark::State& state) {
  Fdb fdb(8192, 8192);
  std::mt19937_64 rng(2);
  for (int i = 0; i < 4096; ++i) (void)fdb.learn(1, rng() & 0xfeffffffffffull, 0, 0, 300000);
  uint64_t m = 0x020000000000;
  for (auto _ : state) benchmark::DoNotOptimize(fdb.lookup(1, ++m, 1, 300000));
}
BENCHMARK(BM_FdbLookupMiss);

void BM_FdbLearnKnown(benchmark::State& state) {
  Fdb fdb(8192, 8192);
  (void)fdb.learn(1, 0x020000000001, 0, 0, 300000);
  for (auto _ : state) benchmark::DoNotOptimize(fdb.learn(1, 0x020000000001, 0, 1, 300000));
}
BENCHMARK(BM_FdbLearnKnown);

// Bridge::forward on the calling thread (direct TxContext), 32 known-unicast packets a call.
void BM_BridgeForwardUnicast(benchmark::State& state) {
  vnet::sw::Bridge br;
  FakePort a("a"), b("b");
  b.set_record(false);
  (void)br.add_port(&a);
  (void)br.add_port(&b);
  auto learn_b = make_frame(0xffffffffffff, 0x02000000000b, 0);
  auto frame = make_frame(0x02000000000b, 0x02000000000a, 0, static_cast<size_t>(state.range(0)) - 18);
  vnet::HostSpan spans[2] = {{learn_b.data(), static_cast<uint32_t>(learn_b.size())},
                       {frame.data(), static_cast<uint32_t>(frame.size())}};
  vnet::dataplane::Packet learn{};
  learn.spans = &spans[0];
  learn.nspans = 1;
  learn.len = spans[0].len;
  std::memcpy(learn.eth, learn_b.data(), 18);
  br.forward(&b, 0, &learn, 1);
  vnet::dataplane::Packet burst[32];
  for (auto _ : state) {
    for (auto& p : burst) {
      p = vnet::dataplane::Packet{};
      p.spans = &spans[1];
      p.nspans = 1;
      p.len = spans[1].len;
      std::memcpy(p.eth, frame.data(), 18);
    }
    br.forward(&a, 0, burst, 32);
  }
  state.SetItemsProcessed(state.iterations() * 32);
}
BENCHMARK(BM_BridgeForwardUnicast)->Arg(64)->Arg(1518);

// One poll thread forwarding a never-empty fake queue through the bridge; Mpps over 300 ms.
void BM_PollThreadRate(benchmark::State& state) {
  const auto mode = static_cast<vnet::dataplane::PollMode>(state.range(0));
  for (auto _ : state) {
    vnet::sw::Bridge br;
    FakePort a("a"), b("b");
    b.set_record(false);
    (void)br.add_port(&a);
    (void)br.add_port(&b);
    vnet::dataplane::DatapathOptions o;
    o.threads = 1;
    o.mode = mode;
    auto dp = vnet::dataplane::Datapath::create(br, o);
    if (!dp) {
      state.SkipWithError(dp.error().message().c_str());
      return;
    }
    // Teach the bridge where B is, then stream A -> B unicast.
    b.inject(0, make_frame(0xffffffffffff, 0x02000000000b, 0));
    a.set_generator(0, make_frame(0x02000000000b, 0x02000000000a, 0));
    (void)(*dp)->add_port(&a);
    (void)(*dp)->add_port(&b);
    while (b.sent_count() == 0 || a.sent_count() == 0) std::this_thread::yield();
    const uint64_t n0 = b.sent_count(), t0 = vnet::monotonic_ns();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const uint64_t n1 = b.sent_count(), t1 = vnet::monotonic_ns();
    state.counters["Mpps"] = double(n1 - n0) * 1e3 / double(t1 - t0);
  }
}
BENCHMARK(BM_PollThreadRate)
    ->ArgName("mode")
    ->Arg(static_cast<int>(vnet::dataplane::PollMode::busy))
    ->Arg(static_cast<int>(vnet::dataplane::PollMode::adaptive))
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
