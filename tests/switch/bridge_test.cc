// The bridge as a Forwarder, driven directly from the test thread (transmit goes through the
// direct TxContext): learning, unicast, flooding, VLANs, limits, counters, FDB dump.
#include "switch/bridge.h"

#include <gtest/gtest.h>

#include <cstring>

#include "dataplane/fake_port.h"

namespace vnet::sw {
namespace {

using dataplane::Packet;
using testing::FakePort;
using testing::make_frame;

constexpr Mac kA = 0x02000000000a, kB = 0x02000000000b, kC = 0x02000000000c;
constexpr Mac kBroadcast = 0xffffffffffff;

class BridgeTest : public ::testing::Test {
 protected:
  BridgeOptions options() {
    BridgeOptions o;
    o.clock = [this] { return now_ns; };
    return o;
  }
  // Receives one frame on `in` through the bridge, as a poll thread would.
  void send(Bridge& br, FakePort& in, const std::vector<uint8_t>& frame) {
    std::vector<uint8_t> copy = frame;
    HostSpan span{copy.data(), static_cast<uint32_t>(copy.size())};
    Packet p;
    p.spans = &span;
    p.nspans = 1;
    p.len = span.len;
    std::memcpy(p.eth, copy.data(), std::min<size_t>(copy.size(), dataplane::kEthHeaderCopy));
    br.forward(&in, 0, &p, 1);
  }
  static size_t count(FakePort& p) { return p.take_sent().size(); }

  uint64_t now_ns = 1'000'000'000;
  FakePort p1{"p1"}, p2{"p2"}, p3{"p3"};
};

TEST_F(BridgeTest, FloodsUnknownThenForwardsLearnedUnicast) {
  Bridge br(options());
  for (auto* p : {&p1, &p2, &p3}) ASSERT_TRUE(br.add_port(p).ok());
  send(br, p1, make_frame(kB, kA, 1));  // B unknown: flooded, never back to p1
  EXPECT_EQ(count(p1), 0u);
  EXPECT_EQ(count(p2), 1u);
  EXPECT_EQ(count(p3), 1u);
  send(br, p2, make_frame(kA, kB, 2));  // A learned on p1: unicast
  EXPECT_EQ(count(p1), 1u);
  EXPECT_EQ(count(p2), 0u);
  EXPECT_EQ(count(p3), 0u);
  send(br, p1, make_frame(kB, kA, 3));  // B learned on p2 now
  auto sent = p2.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].bytes, make_frame(kB, kA, 3)) << "bytes unchanged";
  EXPECT_EQ(count(p3), 0u);
  auto stats = br.ports();
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_EQ(stats[0].name, "p1");
  EXPECT_EQ(stats[0].counters.rx_packets, 2u);
  EXPECT_EQ(stats[0].counters.flooded, 1u);
  EXPECT_EQ(stats[0].counters.tx_packets, 1u);
  EXPECT_EQ(stats[0].counters.learned, 1u);
  EXPECT_EQ(stats[1].counters.tx_packets, 2u);
  EXPECT_EQ(stats[2].counters.tx_packets, 1u);
  EXPECT_EQ(stats[2].counters.tx_bytes, make_frame(kB, kA, 1).size());
}

TEST_F(BridgeTest, BroadcastAndMulticastAlwaysFlood) {
  Bridge br(options());
  for (auto* p : {&p1, &p2, &p3}) ASSERT_TRUE(br.add_port(p).ok());
  send(br, p1, make_frame(kBroadcast, kA, 1));
  send(br, p1, make_frame(0x01005e000001, kA, 2));
  EXPECT_EQ(count(p1), 0u);
  EXPECT_EQ(count(p2), 2u);
  EXPECT_EQ(count(p3), 2u);
}

TEST_F(BridgeTest, DestinationOnIngressPortIsNotSentBack) {
  Bridge br(options());
  for (auto* p : {&p1, &p2}) ASSERT_TRUE(br.add_port(p).ok());
  send(br, p1, make_frame(kBroadcast, kB, 0));  // B on p1
  count(p2);
  send(br, p1, make_frame(kB, kA, 1));
  EXPECT_EQ(count(p1), 0u);
  EXPECT_EQ(count(p2), 0u);
  EXPECT_EQ(br.ports()[0].counters.drops[size_t(DropReason::local)], 1u);
}

TEST_F(BridgeTest, MacMoveRedirectsTrafficToTheNewPort) {
  Bridge br(options());
  for (auto* p : {&p1, &p2, &p3}) ASSERT_TRUE(br.add_port(p).ok());
  send(br, p1, make_frame(kBroadcast, kA, 0));
  for (auto* p : {&p1, &p2, &p3}) p->take_sent();
  send(br, p3, make_frame(kBroadcast, kA, 1));  // A moved to p3 (a migrated VM)
  for (auto* p : {&p1, &p2, &p3}) p->take_sent();
  send(br, p2, make_frame(kA, kB, 2));
  EXPECT_EQ(count(p1), 0u);
  EXPECT_EQ(count(p3), 1u);
  EXPECT_EQ(br.ports()[2].counters.moved, 1u);
  auto fdb = br.fdb();
  ASSERT_EQ(fdb.size(), 2u);
  EXPECT_EQ(fdb[0].mac, kA);
  EXPECT_EQ(fdb[0].port, "p3");
}

TEST_F(BridgeTest, AgingWithInjectedClockAndFdbDump) {
  BridgeOptions o = options();
  o.aging_ms = 10'000;
  Bridge br(o);
  for (auto* p : {&p1, &p2, &p3}) ASSERT_TRUE(br.add_port(p).ok());
  send(br, p1, make_frame(kBroadcast, kA, 0));
  now_ns += 4'000'000'000;
  send(br, p2, make_frame(kBroadcast, kB, 0));
  now_ns += 3'000'000'000;
  auto fdb = br.fdb();
  ASSERT_EQ(fdb.size(), 2u);
  EXPECT_EQ(fdb[0].vlan, 1);
  EXPECT_EQ(fdb[0].mac, kA);
  EXPECT_EQ(fdb[0].port, "p1");
  EXPECT_EQ(fdb[0].age_ms, 7000u);
  EXPECT_EQ(fdb[1].mac, kB);
  EXPECT_EQ(fdb[1].age_ms, 3000u);
  now_ns += 4'000'000'000;  // A is 11 s old: gone from lookups, floods again
  for (auto* p : {&p1, &p2, &p3}) p->take_sent();
  send(br, p2, make_frame(kA, kB, 1));
  EXPECT_EQ(count(p1), 1u);
  EXPECT_EQ(count(p3), 1u) << "aged-out destination is flooded";
  EXPECT_EQ(br.expire(), 1u);
  EXPECT_EQ(br.counters().fdb_entries, 1u);
  br.set_aging_ms(1000);
  EXPECT_EQ(br.aging_ms(), 1000u);
  now_ns += 2'000'000'000;
  EXPECT_EQ(br.expire(), 1u);
  EXPECT_TRUE(br.fdb().empty());
}

TEST_F(BridgeTest, LearningLimitsFloodAndCount) {
  BridgeOptions o = options();
  o.max_entries = 64;
  o.max_entries_per_port = 16;
  Bridge br(o);
  for (auto* p : {&p1, &p2, &p3}) ASSERT_TRUE(br.add_port(p).ok());
  send(br, p2, make_frame(kBroadcast, kB, 0));
  // p1 sprays 1000 random source addresses.
  for (uint32_t i = 0; i < 1000; ++i) send(br, p1, make_frame(kBroadcast, 0x020000100000ull + i * 7919, i));
  auto ports = br.ports();
  EXPECT_EQ(ports[0].fdb_entries, 16u);
  EXPECT_EQ(ports[0].counters.learn_failures[size_t(LearnFailure::limit_port)], 984u);
  EXPECT_EQ(br.counters().fdb_entries, 17u);
  // Frames to an address that could not be learned are flooded, not dropped.
  for (auto* p : {&p1, &p2, &p3}) p->take_sent();
  send(br, p2, make_frame(0x020000100000ull + 999 * 7919, kB, 1));
  EXPECT_EQ(count(p1), 1u);
  EXPECT_EQ(count(p3), 1u);
  // p2's entry survived the spray.
  send(br, p1, make_frame(kB, 0x020000100000ull, 2));
  EXPECT_EQ(count(p2), 1u);
  EXPECT_EQ(count(p3), 0u);
}

TEST_F(BridgeTest, BadSourcesAndRuntsAreDroppedAndCounted) {
  Bridge br(options());
  for (auto* p : {&p1, &p2}) ASSERT_TRUE(br.add_port(p).ok());
  send(br, p1, make_frame(kB, kBroadcast, 0));
  send(br, p1, make_frame(kB, 0, 0));
  auto runt = make_frame(kB, kA, 0);
  runt.resize(10);
  send(br, p1, runt);
  EXPECT_EQ(count(p2), 0u);
  auto c = br.ports()[0].counters;
  EXPECT_EQ(c.drops[size_t(DropReason::bad_src)], 2u);
  EXPECT_EQ(c.drops[size_t(DropReason::runt)], 1u);
  EXPECT_EQ(c.rx_packets, 3u);
  EXPECT_TRUE(br.fdb().empty());
}

TEST_F(BridgeTest, VlansIsolateAccessPortsAndTrunksCarryTags) {
  FakePort a10("a10"), b10("b10"), a20("a20"), trunk("trunk");
  Bridge br(options());
  ASSERT_TRUE(br.add_port(&a10, VlanConfig::access(10)).ok());
  ASSERT_TRUE(br.add_port(&b10, VlanConfig::access(10)).ok());
  ASSERT_TRUE(br.add_port(&a20, VlanConfig::access(20)).ok());
  ASSERT_TRUE(br.add_port(&trunk, VlanConfig::trunk({10, 20})).ok());

  // Untagged broadcast on VLAN 10: the other VLAN-10 access port gets it untagged, the trunk
  // gets it with tag 10 pushed, VLAN 20 sees nothing.
  send(br, a10, make_frame(kBroadcast, kA, 1));
  auto b = b10.take_sent();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].bytes, make_frame(kBroadcast, kA, 1));
  auto t = trunk.take_sent();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].bytes, make_frame(kBroadcast, kA, 1, 46, 10));
  EXPECT_EQ(count(a20), 0u);

  // Tagged 20 from the trunk to A's MAC: A is known only in VLAN 10, so it floods VLAN 20:
  // popped for a20, nothing for VLAN 10 ports.
  send(br, trunk, make_frame(kA, kC, 2, 46, 20));
  auto c20 = a20.take_sent();
  ASSERT_EQ(c20.size(), 1u);
  EXPECT_EQ(c20[0].bytes, make_frame(kA, kC, 2));
  EXPECT_EQ(count(a10), 0u);
  EXPECT_EQ(count(b10), 0u);

  // Tagged 10 from the trunk to A: known unicast, tag popped.
  send(br, trunk, make_frame(kA, kC, 3, 46, 10));
  auto ua = a10.take_sent();
  ASSERT_EQ(ua.size(), 1u);
  EXPECT_EQ(ua[0].bytes, make_frame(kA, kC, 3));
  EXPECT_EQ(count(b10), 0u);

  // Disallowed VLAN on the trunk, tagged frame on an access port: dropped and counted.
  send(br, trunk, make_frame(kBroadcast, kC, 4, 46, 30));
  send(br, a10, make_frame(kBroadcast, kA, 5, 46, 10));
  for (auto* p : {&a10, &b10, &a20, &trunk}) EXPECT_EQ(count(*p), 0u);
  auto ports = br.ports();
  EXPECT_EQ(ports[3].counters.drops[size_t(DropReason::vlan_not_allowed)], 1u);
  EXPECT_EQ(ports[0].counters.drops[size_t(DropReason::bad_tag)], 1u);
  // The FDB is per VLAN: C was learned in VLANs 20 and 10 on the trunk.
  int c_entries = 0;
  for (const auto& e : br.fdb()) c_entries += e.mac == kC;
  EXPECT_EQ(c_entries, 2);
}

TEST_F(BridgeTest, TrunkToTrunkKeepsTheTagAndNativeVlanIsUntagged) {
  FakePort t1("t1"), t2("t2"), acc("acc");
  Bridge br(options());
  ASSERT_TRUE(br.add_port(&t1, VlanConfig::trunk({10}, 1)).ok());
  ASSERT_TRUE(br.add_port(&t2, VlanConfig::trunk({10}, 1)).ok());
  ASSERT_TRUE(br.add_port(&acc, VlanConfig::access(1)).ok());
  auto tagged = make_frame(kBroadcast, kA, 1, 46, 10);
  tagged[14] |= 0xa0;  // PCP 5 survives
  send(br, t1, tagged);
  auto s = t2.take_sent();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].bytes, tagged);
  EXPECT_EQ(count(acc), 0u);
  send(br, t1, make_frame(kBroadcast, kA, 2));  // untagged = native VLAN 1
  auto n2 = t2.take_sent();
  ASSERT_EQ(n2.size(), 1u);
  EXPECT_EQ(n2[0].bytes, make_frame(kBroadcast, kA, 2));
  EXPECT_EQ(count(acc), 1u);
}

TEST_F(BridgeTest, RemovePortFlushesItsEntriesAndStopsDelivery) {
  Bridge br(options());
  for (auto* p : {&p1, &p2, &p3}) ASSERT_TRUE(br.add_port(p).ok());
  EXPECT_FALSE(br.add_port(&p1).ok());
  send(br, p1, make_frame(kBroadcast, kA, 0));
  send(br, p2, make_frame(kBroadcast, kB, 0));
  ASSERT_EQ(br.fdb().size(), 2u);
  ASSERT_TRUE(br.remove_port(&p1).ok());
  EXPECT_FALSE(br.remove_port(&p1).ok());
  auto fdb = br.fdb();
  ASSERT_EQ(fdb.size(), 1u);
  EXPECT_EQ(fdb[0].port, "p2");
  for (auto* p : {&p1, &p2, &p3}) p->take_sent();
  send(br, p2, make_frame(kA, kB, 1));
  EXPECT_EQ(count(p1), 0u);
  EXPECT_EQ(count(p3), 1u) << "A's entry is gone: flooded to the remaining ports";
  send(br, p1, make_frame(kBroadcast, kA, 0));  // a frame from a port not on the bridge
  EXPECT_EQ(br.counters().unknown_ingress, 1u);
  // The slot is reused with fresh counters.
  ASSERT_TRUE(br.add_port(&p1).ok());
  for (const auto& p : br.ports())
    if (p.name == "p1") {
      EXPECT_EQ(p.counters.rx_packets, 0u);
    }
}

TEST_F(BridgeTest, SetVlanRejectsBadConfigAndFlushes) {
  Bridge br(options());
  ASSERT_TRUE(br.add_port(&p1).ok());
  ASSERT_TRUE(br.add_port(&p2).ok());
  EXPECT_FALSE(br.add_port(&p3, VlanConfig::access(0)).ok());
  send(br, p1, make_frame(kBroadcast, kA, 0));
  ASSERT_EQ(br.fdb().size(), 1u);
  EXPECT_FALSE(br.set_vlan(&p1, VlanConfig::trunk({})).ok());
  ASSERT_TRUE(br.set_vlan(&p1, VlanConfig::access(5)).ok());
  EXPECT_TRUE(br.fdb().empty());
  EXPECT_EQ(br.ports()[0].vlan.access_vlan, 5);
  p2.take_sent();
  send(br, p1, make_frame(kBroadcast, kA, 1));
  EXPECT_EQ(count(p2), 0u) << "p2 is in VLAN 1, p1 now in VLAN 5";
}

TEST_F(BridgeTest, BurstsLargerThan32AreSplit) {
  Bridge br(options());
  for (auto* p : {&p1, &p2}) ASSERT_TRUE(br.add_port(p).ok());
  std::vector<std::vector<uint8_t>> frames;
  std::vector<HostSpan> spans(70);
  std::vector<Packet> pkts(70);
  for (uint32_t i = 0; i < 70; ++i) frames.push_back(make_frame(kBroadcast, kA, i));
  for (uint32_t i = 0; i < 70; ++i) {
    spans[i] = HostSpan{frames[i].data(), static_cast<uint32_t>(frames[i].size())};
    pkts[i].spans = &spans[i];
    pkts[i].nspans = 1;
    pkts[i].len = spans[i].len;
    std::memcpy(pkts[i].eth, frames[i].data(), dataplane::kEthHeaderCopy);
  }
  br.forward(&p1, 0, pkts.data(), 70);
  auto s = p2.take_sent();
  ASSERT_EQ(s.size(), 70u);
  for (uint32_t i = 0; i < 70; ++i) EXPECT_EQ(testing::frame_seq(s[i].bytes), i);
}

}  // namespace
}  // namespace vnet::sw
