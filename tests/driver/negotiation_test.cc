// Feature negotiation with fallbacks, the vhost-user request sequence, ring bring-up and
// teardown, checked against the in-process device harness.
#include <gtest/gtest.h>

#include <algorithm>

#include "driver/driver_rig.h"

namespace vnet::driver::testing {
namespace {

using namespace virtio;

size_t index_of(const std::vector<std::string>& log, const std::string& what) {
  return static_cast<size_t>(std::find(log.begin(), log.end(), what) - log.begin());
}

TEST(DriverNegotiation, AllFeaturesOfferedAreUsed) {
  DriverConfig cfg = Rig::small_config();
  cfg.queue_pairs = 2;
  cfg.mtu = 9000;
  Rig r(cfg);
  EXPECT_TRUE(r.drv->mergeable());
  EXPECT_TRUE(r.drv->event_idx());
  EXPECT_TRUE(r.drv->indirect());
  EXPECT_EQ(r.drv->queue_pairs(), 2);
  EXPECT_TRUE(has(r.h.negotiated, kNetFMq));
  EXPECT_TRUE(has(r.h.negotiated, kFProtocolFeatures)) << "bit 30 is acked back when offered";
  EXPECT_FALSE(has(r.h.negotiated, kNetFHostTso4)) << "not asked for";
  EXPECT_EQ(r.h.mtu, 9000);
  EXPECT_EQ(r.drv->hdr_len(), 12u);
  EXPECT_GE(r.drv->max_tx_frame(), 9018u);
  EXPECT_EQ(r.h.vrings.size(), 4u);
  for (auto& [i, v] : r.h.vrings) {
    EXPECT_EQ(v.num, 16u) << i;
    EXPECT_TRUE(v.kick.valid() && v.call.valid()) << i;
    EXPECT_TRUE(v.enabled) << i;
    EXPECT_NE(r.h.table->va_to_host(v.desc, 16 * 16), nullptr) << "ring VA inside the shared region";
  }
}

TEST(DriverNegotiation, RequestOrderFollowsQemu) {
  Rig r;
  const auto& l = r.h.log;
  EXPECT_EQ(l.front(), "GET_FEATURES");
  EXPECT_LT(index_of(l, "GET_PROTOCOL_FEATURES"), index_of(l, "SET_PROTOCOL_FEATURES"));
  EXPECT_LT(index_of(l, "SET_PROTOCOL_FEATURES"), index_of(l, "SET_OWNER"));
  EXPECT_LT(index_of(l, "SET_OWNER"), index_of(l, "SET_FEATURES"));
  EXPECT_LT(index_of(l, "SET_FEATURES"), index_of(l, "SET_MEM_TABLE"));
  EXPECT_LT(index_of(l, "SET_MEM_TABLE"), index_of(l, "SET_VRING_NUM"));
  EXPECT_LT(index_of(l, "SET_VRING_ADDR"), index_of(l, "SET_VRING_KICK"));
  EXPECT_EQ(std::count(l.begin(), l.end(), "SET_VRING_ENABLE"), 2);
  EXPECT_EQ(index_of(l, "GET_QUEUE_NUM"), l.size()) << "one queue pair: no GET_QUEUE_NUM";
}

TEST(DriverNegotiation, FallbacksWhenFeaturesMissing) {
  DriverConfig cfg = Rig::small_config();
  cfg.queue_pairs = 4;
  Rig r(cfg, [](DeviceHarness& h) {
    h.offered = bit(kFVersion1) | bit(kFProtocolFeatures);
    h.offered_protocol = 0;
  });
  EXPECT_FALSE(r.drv->mergeable());
  EXPECT_FALSE(r.drv->event_idx());
  EXPECT_FALSE(r.drv->indirect());
  EXPECT_EQ(r.drv->queue_pairs(), 1) << "no MQ: one queue pair";
  EXPECT_EQ(r.h.mtu, -1) << "no NET_SET_MTU without F_MTU and PROTOCOL_F_MTU";
  EXPECT_EQ(r.drv->rx(0).buf_size() % 64, 0u);
  EXPECT_GE(r.drv->rx(0).buf_size(), 12u + 1518u) << "big buffers hold a whole frame";
}

TEST(DriverNegotiation, QueuePairsClampedToBackend) {
  DriverConfig cfg = Rig::small_config();
  cfg.queue_pairs = 4;
  Rig r(cfg, [](DeviceHarness& h) { h.queue_num = 2; });
  EXPECT_EQ(r.drv->queue_pairs(), 2);
  EXPECT_EQ(r.h.vrings.size(), 4u);
}

TEST(DriverNegotiation, LegacyWithoutVersion1Uses10ByteHeader) {
  Rig r(Rig::small_config(), [](DeviceHarness& h) { h.offered = bit(kFProtocolFeatures); });
  EXPECT_EQ(r.drv->hdr_len(), 10u);
  std::vector<uint8_t> f = make_frame(100, 3);
  ASSERT_EQ(r.h.deliver(0, f), 1);
  Collect c;
  EXPECT_EQ(r.drv->rx(0).poll(8, c), 1);
  ASSERT_EQ(c.frames.size(), 1u);
  EXPECT_EQ(c.frames[0], f);
}

TEST(DriverNegotiation, WithoutProtocolFeaturesNoEnable) {
  Rig r(Rig::small_config(), [](DeviceHarness& h) { h.offered &= ~bit(kFProtocolFeatures); });
  EXPECT_EQ(std::count(r.h.log.begin(), r.h.log.end(), "SET_VRING_ENABLE"), 0);
  EXPECT_EQ(std::count(r.h.log.begin(), r.h.log.end(), "GET_PROTOCOL_FEATURES"), 0);
  EXPECT_FALSE(has(r.h.negotiated, kFProtocolFeatures));
}

TEST(DriverNegotiation, BadConfigRejected) {
  DeviceHarness h;
  DriverConfig cfg;
  cfg.queue_size = 100;
  auto d = VirtioNetDriver::start(std::make_unique<HarnessLink>(h), cfg);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("queue_size"), std::string::npos);
  EXPECT_TRUE(h.log.empty()) << "nothing sent for a bad config";
}

TEST(DriverNegotiation, StopStopsEveryRingOnce) {
  DriverConfig cfg = Rig::small_config();
  cfg.queue_pairs = 2;
  Rig r(cfg);
  ASSERT_TRUE(r.drv->stop().ok());
  EXPECT_FALSE(r.drv->running());
  for (auto& [i, v] : r.h.vrings) {
    EXPECT_TRUE(v.stopped) << i;
    EXPECT_FALSE(v.enabled) << i;
  }
  const auto n = std::count(r.h.log.begin(), r.h.log.end(), "GET_VRING_BASE");
  EXPECT_EQ(n, 4);
  ASSERT_TRUE(r.drv->stop().ok());
  EXPECT_EQ(std::count(r.h.log.begin(), r.h.log.end(), "GET_VRING_BASE"), n) << "idempotent";
}

TEST(DriverNegotiation, UnreachableSocketIsAClearError) {
  DriverConfig cfg;
  cfg.timeout = std::chrono::milliseconds(100);
  auto d = VirtioNetDriver::connect("/nonexistent-dir/vnet.sock", cfg);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message().find("/nonexistent-dir/vnet.sock"), std::string::npos) << d.error().message();
}

}  // namespace
}  // namespace vnet::driver::testing
