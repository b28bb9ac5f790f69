// FDB: learning, aging, moves, limits, MAC spraying, and concurrent lookups during learning.
#include "switch/fdb.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

namespace vnet::sw {
namespace {

constexpr uint64_t kAging = 300'000;

TEST(Fdb, LearnsAndLooksUpPerVlan) {
  Fdb fdb(1024, 256);
  EXPECT_EQ(fdb.lookup(1, 0x020000000001, 0, kAging), -1);
  EXPECT_EQ(fdb.learn(1, 0x020000000001, 3, 0, kAging), LearnResult::learned);
  EXPECT_EQ(fdb.learn(1, 0x020000000001, 3, 5, kAging), LearnResult::known);
  EXPECT_EQ(fdb.lookup(1, 0x020000000001, 10, kAging), 3);
  EXPECT_EQ(fdb.lookup(2, 0x020000000001, 10, kAging), -1) << "keyed by (VLAN, MAC)";
  EXPECT_EQ(fdb.learn(2, 0x020000000001, 4, 10, kAging), LearnResult::learned);
  EXPECT_EQ(fdb.lookup(2, 0x020000000001, 10, kAging), 4);
  EXPECT_EQ(fdb.lookup(1, 0x020000000001, 10, kAging), 3);
  EXPECT_EQ(fdb.size(), 2u);
  EXPECT_EQ(fdb.port_size(3), 1u);
  EXPECT_EQ(fdb.port_size(4), 1u);
  EXPECT_GE(fdb.capacity(), 2048u);
}

TEST(Fdb, AgesOutWithTheInjectedClock) {
  Fdb fdb(1024, 256);
  ASSERT_EQ(fdb.learn(1, 0xa, 1, 1000, kAging), LearnResult::learned);
  ASSERT_EQ(fdb.learn(1, 0xb, 1, 1000, kAging), LearnResult::learned);
  // Seen again later: refreshed (refresh granularity is at most a second).
  EXPECT_EQ(fdb.learn(1, 0xb, 1, 200'000, kAging), LearnResult::known);
  EXPECT_EQ(fdb.lookup(1, 0xa, 1000 + kAging, kAging), 1) << "exactly the aging time: still valid";
  EXPECT_EQ(fdb.lookup(1, 0xa, 1001 + kAging, kAging), -1) << "older than the aging time: no match";
  EXPECT_EQ(fdb.lookup(1, 0xb, 1001 + kAging, kAging), 1);
  EXPECT_EQ(fdb.expire(1001 + kAging, kAging), 1u);
  EXPECT_EQ(fdb.size(), 1u);
  EXPECT_EQ(fdb.port_size(1), 1u);
  EXPECT_EQ(fdb.expire(200'000 + kAging + 1, kAging), 1u);
  EXPECT_EQ(fdb.size(), 0u);
  // Shorter aging (set_aging) applies to existing entries.
  ASSERT_EQ(fdb.learn(1, 0xc, 2, 0, kAging), LearnResult::learned);
  EXPECT_EQ(fdb.lookup(1, 0xc, 20'000, 10'000), -1);
  // An expired entry seen again is taken over (counted as a move if the port differs).
  EXPECT_EQ(fdb.learn(1, 0xc, 2, 20'000, 10'000), LearnResult::known);
  EXPECT_EQ(fdb.lookup(1, 0xc, 20'000, 10'000), 2);
}

TEST(Fdb, MacMovesBetweenPorts) {
  Fdb fdb(1024, 256);
  ASSERT_EQ(fdb.learn(7, 0x1234, 1, 0, kAging), LearnResult::learned);
  EXPECT_EQ(fdb.learn(7, 0x1234, 2, 1, kAging), LearnResult::moved);
  EXPECT_EQ(fdb.lookup(7, 0x1234, 1, kAging), 2);
  EXPECT_EQ(fdb.port_size(1), 0u);
  EXPECT_EQ(fdb.port_size(2), 1u);
  EXPECT_EQ(fdb.size(), 1u);
}

TEST(Fdb, FlushPortRemovesOnlyThatPort) {
  Fdb fdb(1024, 256);
  for (uint64_t m = 1; m <= 10; ++m) ASSERT_EQ(fdb.learn(1, m, m % 2, 0, kAging), LearnResult::learned);
  EXPECT_EQ(fdb.flush_port(1), 5u);
  EXPECT_EQ(fdb.size(), 5u);
  for (uint64_t m = 1; m <= 10; ++m) EXPECT_EQ(fdb.lookup(1, m, 0, kAging), m % 2 ? -1 : 0);
  // Slots freed by deletion are reused.
  for (uint64_t m = 11; m <= 15; ++m) ASSERT_EQ(fdb.learn(1, m, 1, 0, kAging), LearnResult::learned);
  EXPECT_EQ(fdb.flush_all(), 10u);
  EXPECT_EQ(fdb.size(), 0u);
}

TEST(Fdb, LimitsPerPortAndPerBridge) {
  Fdb fdb(100, 40);
  for (uint64_t m = 0; m < 40; ++m) ASSERT_EQ(fdb.learn(1, 0x100 + m, 0, 0, kAging), LearnResult::learned);
  EXPECT_EQ(fdb.learn(1, 0x999, 0, 0, kAging), LearnResult::limit_port);
  EXPECT_EQ(fdb.lookup(1, 0x999, 0, kAging), -1);
  for (uint64_t m = 0; m < 40; ++m) ASSERT_EQ(fdb.learn(1, 0x200 + m, 1, 0, kAging), LearnResult::learned);
  for (uint64_t m = 0; m < 20; ++m) ASSERT_EQ(fdb.learn(1, 0x300 + m, 2, 0, kAging), LearnResult::learned);
  EXPECT_EQ(fdb.size(), 100u);
  EXPECT_EQ(fdb.learn(1, 0x400, 3, 0, kAging), LearnResult::limit_bridge);
  // A move into a port at its limit is refused too (the entry stays where it was).
  EXPECT_EQ(fdb.learn(1, 0x300, 0, 0, kAging), LearnResult::limit_port);
  EXPECT_EQ(fdb.lookup(1, 0x300, 0, kAging), 2);
  // Known addresses keep working at the limit.
  EXPECT_EQ(fdb.learn(1, 0x100, 0, 5000, kAging), LearnResult::known);
  // Room again after aging.
  EXPECT_EQ(fdb.expire(kAging + 1, kAging), 99u);
  EXPECT_EQ(fdb.learn(1, 0x400, 3, kAging + 1, kAging), LearnResult::learned);
}

TEST(Fdb, RandomSourceSprayCannotGrowOrEvict) {
  Fdb fdb(4096, 512);
  const uint32_t cap = fdb.capacity();
  for (uint64_t m = 0; m < 100; ++m) ASSERT_EQ(fdb.learn(1, 0x0200000000 + m, 1, 0, kAging), LearnResult::learned);
  std::mt19937_64 rng(42);
  uint64_t refused = 0;
  for (int i = 0; i < 200'000; ++i) {
    const Mac m = rng() & 0xfeffffffffffull;  // unicast
    const LearnResult r = fdb.learn(static_cast<uint16_t>(1 + rng() % 4094), m, 2, i / 100, kAging);
    if (r == LearnResult::limit_port) ++refused;
  }
  EXPECT_EQ(fdb.port_size(2), 512u);
  EXPECT_EQ(fdb.size(), 612u);
  EXPECT_GT(refused, 199'000u);
  EXPECT_EQ(fdb.capacity(), cap) << "the table never grows";
  for (uint64_t m = 0; m < 100; ++m) EXPECT_EQ(fdb.lookup(1, 0x0200000000 + m, 2000, kAging), 1) << "evicted";
  // Other ports can still learn.
  EXPECT_EQ(fdb.learn(1, 0x0300000000, 3, 2000, kAging), LearnResult::learned);
}

TEST(Fdb, ConcurrentLearnersAndReadersNeverSeeAWrongPort) {
  // Four writers learn, move and (via a control thread) expire their own address sets while
  // readers look everything up: a lookup returns -1 or a port that owned the address at
  // some point, never another address's port.
  Fdb fdb(8192, 2048);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0}, hits{0};
  auto owner_ok = [](Mac m, int port) { return port == -1 || port / 2 == static_cast<int>(m >> 32); };
  std::vector<std::thread> ts;
  for (int w = 0; w < 4; ++w) {
    ts.emplace_back([&, w] {
      uint64_t now = 0;
      while (!stop.load()) {
        for (uint64_t i = 0; i < 1000; ++i) {
          const Mac m = (uint64_t(w) << 32) | i;
          (void)fdb.learn(1, m, static_cast<uint16_t>(w * 2 + (now & 1)), now, 50);
        }
        ++now;
      }
    });
  }
  ts.emplace_back([&] {
    uint64_t t = 0;
    while (!stop.load()) fdb.expire(t++, 50);
  });
  for (int r = 0; r < 2; ++r) {
    ts.emplace_back([&] {
      while (!stop.load()) {
        for (uint64_t w = 0; w < 4; ++w)
          for (uint64_t i = 0; i < 1000; i += 7) {
            const Mac m = (w << 32) | i;
            const int p = fdb.lookup(1, m, 0, ~0ull >> 1);
            if (!owner_ok(m, p)) bad.fetch_add(1);
            if (p >= 0) hits.fetch_add(1);
          }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // run time of the stress, not a sync
  stop.store(true);
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(hits.load(), 0u);
  uint32_t per_port = 0;
  for (uint16_t p = 0; p < 8; ++p) per_port += fdb.port_size(p);
  EXPECT_EQ(per_port, fdb.size()) << "counters consistent after concurrent churn";
  uint32_t seen = 0;
  fdb.for_each([&](const FdbEntryView&) { ++seen; });
  EXPECT_EQ(seen, fdb.size());
}

}  // namespace
}  // namespace vnet::sw
