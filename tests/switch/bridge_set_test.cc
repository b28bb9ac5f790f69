// Several bridges behind one forwarder: isolation and routing by ingress port.
#include "switch/bridge_set.h"

#include <gtest/gtest.h>

#include <cstring>

#include "dataplane/fake_port.h"

namespace vnet::sw {
namespace {

using testing::FakePort;
using testing::make_frame;

void send(dataplane::Forwarder& f, FakePort& in, std::vector<uint8_t> frame) {
  HostSpan span{frame.data(), static_cast<uint32_t>(frame.size())};
  dataplane::Packet p;
  p.spans = &span;
  p.nspans = 1;
  p.len = span.len;
  std::memcpy(p.eth, frame.data(), dataplane::kEthHeaderCopy);
  f.forward(&in, 0, &p, 1);
}

TEST(BridgeSet, RoutesEachPortToItsBridgeOnly) {
  BridgeOptions o0, o1;
  o0.name = "br0";
  o1.name = "br1";
  Bridge br0(o0), br1(o1), dup(o0);
  BridgeSet set;
  ASSERT_TRUE(set.add_bridge(&br0).ok());
  ASSERT_TRUE(set.add_bridge(&br1).ok());
  EXPECT_FALSE(set.add_bridge(&dup).ok()) << "duplicate name";
  EXPECT_EQ(set.find("br1"), &br1);
  EXPECT_EQ(set.find("nope"), nullptr);
  FakePort a("a"), b("b"), c("c"), d("d");
  ASSERT_TRUE(set.add_port(&br0, &a).ok());
  ASSERT_TRUE(set.add_port(&br0, &b).ok());
  ASSERT_TRUE(set.add_port(&br1, &c).ok());
  ASSERT_TRUE(set.add_port(&br1, &d).ok());
  EXPECT_FALSE(set.add_port(&br1, &a).ok()) << "a port belongs to one bridge";
  EXPECT_FALSE(set.add_port(&dup, &a).ok()) << "bridge not in the set";
  EXPECT_EQ(set.bridge_of(&c), &br1);

  send(set, a, make_frame(0xffffffffffff, 0x02000000000a, 1));
  EXPECT_EQ(b.take_sent().size(), 1u);
  EXPECT_TRUE(c.take_sent().empty());
  EXPECT_TRUE(d.take_sent().empty());
  send(set, c, make_frame(0xffffffffffff, 0x02000000000c, 2));
  EXPECT_EQ(d.take_sent().size(), 1u);
  EXPECT_TRUE(a.take_sent().empty());
  EXPECT_EQ(br0.fdb().size(), 1u);
  EXPECT_EQ(br1.fdb().size(), 1u);

  EXPECT_FALSE(set.remove_bridge(&br1).ok()) << "still has ports";
  ASSERT_TRUE(set.remove_port(&c).ok());
  EXPECT_FALSE(set.remove_port(&c).ok());
  EXPECT_TRUE(br1.fdb().empty()) << "removing the port flushed its address";
  ASSERT_TRUE(set.remove_port(&d).ok());
  EXPECT_TRUE(set.remove_bridge(&br1).ok());
  send(set, c, make_frame(0xffffffffffff, 0x02000000000c, 3));
  EXPECT_EQ(set.unknown_ingress(), 1u);
  EXPECT_EQ(set.expire(), 0u);
}

}  // namespace
}  // namespace vnet::sw
