// 802.1Q classification at ingress and tag edits at egress.
#include "switch/vlan.h"

#include <gtest/gtest.h>

#include <cstring>

#include "dataplane/fake_port.h"
#include "switch/mac.h"

namespace vnet::sw {
namespace {

using dataplane::Packet;
using dataplane::VlanEdit;

Packet packet_of(const std::vector<uint8_t>& f) {
  Packet p;
  p.len = static_cast<uint32_t>(f.size());
  std::memcpy(p.eth, f.data(), std::min<size_t>(f.size(), dataplane::kEthHeaderCopy));
  return p;
}

std::vector<uint8_t> with_tpid(uint16_t tpid, uint16_t tci) {
  auto f = testing::make_frame(1, 2, 0);
  const uint8_t tag[4] = {uint8_t(tpid >> 8), uint8_t(tpid), uint8_t(tci >> 8), uint8_t(tci)};
  f.insert(f.begin() + 12, tag, tag + 4);
  return f;
}

TEST(Vlan, AccessPortTakesUntaggedIntoItsVlan) {
  auto cfg = VlanConfig::access(10);
  Packet p = packet_of(testing::make_frame(1, 2, 0));
  EXPECT_EQ(classify_ingress(cfg, p), IngressDrop::none);
  EXPECT_EQ(p.vlan, 10);
  EXPECT_FALSE(p.tagged);
}

TEST(Vlan, AccessPortDropsTaggedAndUnsupportedTags) {
  auto cfg = VlanConfig::access(10);
  Packet tagged = packet_of(testing::make_frame(1, 2, 0, 46, 10));
  EXPECT_EQ(classify_ingress(cfg, tagged), IngressDrop::bad_tag);
  Packet prio = packet_of(testing::make_frame(1, 2, 0, 46, 0));
  EXPECT_EQ(classify_ingress(cfg, prio), IngressDrop::bad_tag);
  Packet qinq = packet_of(with_tpid(kTpid8021ad, 5));
  EXPECT_EQ(classify_ingress(cfg, qinq), IngressDrop::bad_tag);
  Packet old_qinq = packet_of(with_tpid(kTpidQinQLegacy, 5));
  EXPECT_EQ(classify_ingress(cfg, old_qinq), IngressDrop::bad_tag);
}

TEST(Vlan, RuntsAreDropped) {
  auto cfg = VlanConfig::trunk({10});
  auto f = testing::make_frame(1, 2, 0);
  f.resize(13);
  Packet p = packet_of(f);
  EXPECT_EQ(classify_ingress(cfg, p), IngressDrop::runt);
  auto t = testing::make_frame(1, 2, 0, 46, 10);
  t.resize(16);  // tag cut short
  Packet q = packet_of(t);
  EXPECT_EQ(classify_ingress(cfg, q), IngressDrop::runt);
}

TEST(Vlan, TrunkKeepsAllowedTagsAndFiltersTheRest) {
  auto cfg = VlanConfig::trunk({10, 20}, 1);
  Packet p = packet_of(testing::make_frame(1, 2, 0, 46, 20));
  p.eth[14] |= 0xe0;  // PCP bits do not change the VID
  EXPECT_EQ(classify_ingress(cfg, p), IngressDrop::none);
  EXPECT_EQ(p.vlan, 20);
  EXPECT_TRUE(p.tagged);
  Packet other = packet_of(testing::make_frame(1, 2, 0, 46, 30));
  EXPECT_EQ(classify_ingress(cfg, other), IngressDrop::vlan_not_allowed);
  Packet v0 = packet_of(testing::make_frame(1, 2, 0, 46, 0));
  EXPECT_EQ(classify_ingress(cfg, v0), IngressDrop::bad_tag);
  Packet v4095 = packet_of(testing::make_frame(1, 2, 0, 46, 4095));
  EXPECT_EQ(classify_ingress(cfg, v4095), IngressDrop::bad_tag);
  Packet untagged = packet_of(testing::make_frame(1, 2, 0));
  EXPECT_EQ(classify_ingress(cfg, untagged), IngressDrop::none);
  EXPECT_EQ(untagged.vlan, 1) << "native VLAN";
  auto no_native = VlanConfig::trunk({10});
  Packet u2 = packet_of(testing::make_frame(1, 2, 0));
  EXPECT_EQ(classify_ingress(no_native, u2), IngressDrop::vlan_not_allowed);
}

TEST(Vlan, EgressEditsPushPopOrKeep) {
  auto access = VlanConfig::access(10);
  auto trunk = VlanConfig::trunk({10, 20}, 1);
  Packet untagged10;
  untagged10.vlan = 10;
  Packet tagged10;
  tagged10.vlan = 10;
  tagged10.tagged = true;
  Packet native;
  native.vlan = 1;
  Packet tagged_native;  // cannot come from a trunk with native 1, but from a trunk elsewhere
  tagged_native.vlan = 1;
  tagged_native.tagged = true;

  EXPECT_EQ(egress_item(access, untagged10).edit, VlanEdit::none);
  EXPECT_EQ(egress_item(access, tagged10).edit, VlanEdit::pop);
  auto push = egress_item(trunk, untagged10);
  EXPECT_EQ(push.edit, VlanEdit::push);
  EXPECT_EQ(push.vid, 10);
  EXPECT_EQ(egress_item(trunk, tagged10).edit, VlanEdit::none);
  EXPECT_EQ(egress_item(trunk, native).edit, VlanEdit::none);
  EXPECT_EQ(egress_item(trunk, tagged_native).edit, VlanEdit::pop);
  EXPECT_EQ(egress_item(trunk, untagged10).pkt, &untagged10);
}

TEST(Vlan, MembershipAndValidation) {
  auto access = VlanConfig::access(10);
  EXPECT_TRUE(access.carries(10));
  EXPECT_FALSE(access.carries(1));
  auto trunk = VlanConfig::trunk({10, 11, 12, 20}, 1);
  EXPECT_TRUE(trunk.carries(1));
  EXPECT_TRUE(trunk.carries(12));
  EXPECT_FALSE(trunk.carries(13));
  EXPECT_EQ(trunk.describe(), "trunk 10-12,20 native 1");
  EXPECT_EQ(access.describe(), "access vlan 10");
  EXPECT_TRUE(access.validate().ok());
  EXPECT_TRUE(trunk.validate().ok());
  EXPECT_FALSE(VlanConfig::access(0).validate().ok());
  EXPECT_FALSE(VlanConfig::access(4095).validate().ok());
  EXPECT_FALSE(VlanConfig::trunk({0, 5}).validate().ok());
  EXPECT_FALSE(VlanConfig::trunk({}).validate().ok());
  EXPECT_FALSE(VlanConfig::trunk({5}, 5).validate().ok());
}

TEST(Mac, FormatsAndParses) {
  EXPECT_EQ(mac_to_string(0x0200000000ab), "02:00:00:00:00:ab");
  EXPECT_EQ(mac_from_string("02:00:00:00:00:AB"), 0x0200000000abull);
  EXPECT_FALSE(mac_from_string("02:00:00:00:00").has_value());
  EXPECT_FALSE(mac_from_string("02-00-00-00-00-ab").has_value());
  EXPECT_FALSE(mac_from_string("02:00:00:00:00:zz").has_value());
  EXPECT_TRUE(mac_is_multicast(0xffffffffffff));
  EXPECT_TRUE(mac_is_multicast(0x01005e000001));
  EXPECT_FALSE(mac_is_multicast(0x020000000001));
}

}  // namespace
}  // namespace vnet::sw
