// Queue-to-thread assignment and transmit lock decisions (pure functions).
#include "dataplane/plan.h"
#include "dataplane/poll_mode.h"

#include <gtest/gtest.h>

#include "dataplane/fake_port.h"  // tests/dataplane

namespace vnet::dataplane {
namespace {

using testing::FakePort;

size_t total(const RxAssignment& a) {
  size_t n = 0;
  for (const auto& t : a) n += t.size();
  return n;
}

TEST(Plan, RoundRobinSpreadsQueuesEvenly) {
  FakePort a("a", 3), b("b", 2);
  TxLocks la, lb;
  std::vector<PlannedPort> ports{{&a, 3, &la}, {&b, 2, &lb}};
  RxAssignment r = rebalance({}, ports, 2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(total(r), 5u);
  EXPECT_EQ(r[0].size(), 3u);
  EXPECT_EQ(r[1].size(), 2u);
  // Round robin: consecutive queues of a port land on different threads.
  EXPECT_EQ(r[0][0], (RxSlot{&a, 0}));
  EXPECT_EQ(r[1][0], (RxSlot{&a, 1}));
}

TEST(Plan, RebalanceKeepsExistingPairsAndEvensOut) {
  FakePort a("a", 4), b("b", 4);
  TxLocks la, lb;
  std::vector<PlannedPort> one{{&a, 4, &la}};
  RxAssignment r1 = rebalance({}, one, 2);
  std::vector<PlannedPort> two{{&a, 4, &la}, {&b, 4, &lb}};
  RxAssignment r2 = rebalance(r1, two, 2);
  EXPECT_EQ(r2[0].size(), 4u);
  EXPECT_EQ(r2[1].size(), 4u);
  // Nothing that was placed moved.
  EXPECT_EQ(intersect(r1, r2), r1);

  // Port a goes away: its pairs disappear, b's queues are spread again (2 + 2).
  std::vector<PlannedPort> bonly{{&b, 4, &lb}};
  RxAssignment r3 = rebalance(r2, bonly, 2);
  EXPECT_EQ(total(r3), 4u);
  EXPECT_EQ(r3[0].size(), 2u);
  EXPECT_EQ(r3[1].size(), 2u);
  for (const auto& t : r3)
    for (const auto& s : t) EXPECT_EQ(s.port, &b);
}

TEST(Plan, QueueCountShrinkDropsHighQueues) {
  FakePort a("a", 4);
  TxLocks la;
  RxAssignment r = rebalance({}, {{&a, 4, &la}}, 3);
  RxAssignment s = rebalance(r, {{&a, 1, &la}}, 3);
  EXPECT_EQ(total(s), 1u);
  for (const auto& t : s)
    for (const auto& x : t) EXPECT_EQ(x.queue, 0);
  RxAssignment z = rebalance(s, {{&a, 0, &la}}, 3);
  EXPECT_EQ(total(z), 0u);
}

TEST(Plan, TransmitLocksOnlyWhereThreadsShareAQueue) {
  FakePort one("one", 1), two("two", 2), zero("zero", 0);
  TxLocks l1, l2, l0;
  std::vector<PlannedPort> ports{{&one, 1, &l1}, {&two, 2, &l2}, {&zero, 0, &l0}};
  // Two threads: both write queue 0 of "one" (locked); "two" has a queue per thread (no lock).
  Plan p = build_plan(7, RxAssignment(2), ports, false);
  EXPECT_EQ(p.version, 7u);
  for (unsigned t = 0; t < 2; ++t) {
    const auto& tx = p.threads[t].tx;
    ASSERT_EQ(tx.size(), 2u) << "ports without queues are unreachable";
    EXPECT_EQ(tx[0].port, &one);
    EXPECT_EQ(tx[0].queue, 0);
    EXPECT_NE(tx[0].lock, nullptr);
    EXPECT_EQ(tx[1].port, &two);
    EXPECT_EQ(tx[1].queue, t);
    EXPECT_EQ(tx[1].lock, nullptr);
  }
  // Forced: everything locked.
  Plan f = build_plan(8, RxAssignment(2), ports, true);
  for (const auto& t : f.threads)
    for (const auto& x : t.tx) EXPECT_NE(x.lock, nullptr);
  // One thread: never a lock.
  Plan s = build_plan(9, RxAssignment(1), ports, false);
  for (const auto& x : s.threads[0].tx) EXPECT_EQ(x.lock, nullptr);
  // Three threads, two queues: queue 0 shared by threads 0 and 2, queue 1 only thread 1's.
  Plan t3 = build_plan(10, RxAssignment(3), ports, false);
  EXPECT_NE(t3.threads[0].tx[1].lock, nullptr);
  EXPECT_EQ(t3.threads[1].tx[1].lock, nullptr);
  EXPECT_NE(t3.threads[2].tx[1].lock, nullptr);
  EXPECT_EQ(t3.threads[0].tx[1].lock, t3.threads[2].tx[1].lock);
}

TEST(PollMode, ParsesAndPrints) {
  for (auto m : {PollMode::busy, PollMode::adaptive, PollMode::interrupt})
    EXPECT_EQ(parse_poll_mode(to_string(m)), m);
  EXPECT_FALSE(parse_poll_mode("turbo").has_value());
}

}  // namespace
}  // namespace vnet::dataplane
