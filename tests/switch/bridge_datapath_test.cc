// Bridge + poll threads + fake ports: learning and unicast under several threads, and a port
// removed from both while traffic flows.
#include <gtest/gtest.h>

#include "dataplane/datapath.h"
#include "dataplane/fake_port.h"
#include "dataplane/wait_until.h"
#include "switch/bridge.h"

namespace vnet::sw {
namespace {

using testing::FakePort;
using testing::make_frame;
using testing::wait_until;

constexpr Mac kA = 0x02000000000a, kB = 0x02000000000b, kC = 0x02000000000c;
constexpr Mac kBroadcast = 0xffffffffffff;

TEST(BridgeDatapath, LearnsAndForwardsUnicastThroughThreads) {
  FakePort p1("p1", 2), p2("p2", 2), p3("p3", 1);
  Bridge br;
  dataplane::DatapathOptions o;
  o.threads = 2;
  auto dp = dataplane::Datapath::create(br, o);
  ASSERT_TRUE(dp.ok());
  for (auto* p : {&p1, &p2, &p3}) {
    ASSERT_TRUE(br.add_port(p).ok());
    ASSERT_TRUE((*dp)->add_port(p).ok());
  }
  p1.inject(0, make_frame(kBroadcast, kA, 0));
  p2.inject(0, make_frame(kBroadcast, kB, 0));
  ASSERT_TRUE(wait_until([&] { return br.fdb().size() == 2 && p3.sent_count() == 2; }));
  for (auto* p : {&p1, &p2, &p3}) p->take_sent();

  constexpr uint32_t kN = 4000;
  for (uint32_t i = 0; i < kN; ++i) {
    p1.inject(i % 2, make_frame(kB, kA, i));
    p2.inject(i % 2, make_frame(kA, kB, i));
  }
  ASSERT_TRUE(wait_until([&] { return p1.sent_count() == kN + 1 && p2.sent_count() == kN + 1; }))
      << p1.sent_count() << " " << p2.sent_count();
  for (auto* p : {&p1, &p2}) {
    std::vector<bool> seen(kN);
    for (const auto& s : p->take_sent()) {
      const uint32_t seq = testing::frame_seq(s.bytes);
      ASSERT_LT(seq, kN);
      EXPECT_FALSE(seen[seq]) << "duplicate " << seq;
      seen[seq] = true;
    }
  }
  EXPECT_EQ(p3.sent_count(), 2u) << "learned unicast never floods";
  for (auto* p : {&p1, &p2, &p3}) EXPECT_EQ(p->violations(), 0u);
  auto ports = br.ports();
  EXPECT_EQ(ports[0].counters.rx_packets, kN + 1);
  EXPECT_EQ(ports[1].counters.tx_packets, kN + 1);
}

TEST(BridgeDatapath, PortRemovedUnderFloodTraffic) {
  FakePort p1("p1", 2), p2("p2", 1), p3("p3", 1);
  p2.set_record(false);
  p3.set_record(false);
  Bridge br;
  dataplane::DatapathOptions o;
  o.threads = 2;
  o.mode = dataplane::PollMode::busy;
  auto dp = dataplane::Datapath::create(br, o);
  ASSERT_TRUE(dp.ok());
  for (auto* p : {&p1, &p2, &p3}) {
    ASSERT_TRUE(br.add_port(p).ok());
    ASSERT_TRUE((*dp)->add_port(p).ok());
  }
  p1.set_generator(0, make_frame(kBroadcast, kA, 0));
  p1.set_generator(1, make_frame(kC, kA, 0));  // unknown unicast: flooded
  ASSERT_TRUE(wait_until([&] { return p3.sent_count() > 1000; }));
  ASSERT_TRUE((*dp)->remove_port(&p3).ok());
  ASSERT_TRUE(br.remove_port(&p3).ok());
  p3.detach();
  const uint64_t before = p2.sent_count();
  ASSERT_TRUE(wait_until([&] { return p2.sent_count() > before + 10000; }));
  EXPECT_EQ(p3.violations(), 0u);
  EXPECT_EQ(p2.violations(), 0u);
  EXPECT_EQ(p1.violations(), 0u);
}

}  // namespace
}  // namespace vnet::sw
