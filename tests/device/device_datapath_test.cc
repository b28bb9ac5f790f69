// The device engine moving frames between two fake guests through real split rings: every
// frame size, MRG_RXBUF / EVENT_IDX / INDIRECT_DESC on and off, headers split across
// descriptors, every byte checked.
#include <gtest/gtest.h>

#include <tuple>

#include "device/frame_pattern.h"
#include "device/feature_modes.h"
#include "device/guest_harness.h"

namespace vnet::device {
namespace {

using testing::forward_burst;
using testing::GuestHarness;
using testing::GuestOptions;
using testing::make_frame;

using Mode = testing::FeatureMode;

class Datapath : public ::testing::TestWithParam<Mode> {
 protected:
  GuestOptions opts() const { return testing::feature_mode_options(GetParam()); }
  void SetUp() override {
    a.attach(dev_a);
    b.attach(dev_b);
  }
  // Mergeable guests post small buffers like Linux does (about one MTU); others post buffers
  // that hold the largest frame.
  uint32_t rx_buf_bytes() const { return GetParam().mrg ? 1536 : 65535 + 12 + 4; }
  void refill_b() {
    int want = 64 - static_cast<int>(b.queue(0).drv->size() - b.queue(0).drv->num_free());
    if (want > 0) b.post_rx(0, want, rx_buf_bytes());
  }

  // Sends one frame from A, forwards it, and checks what B's driver receives byte by byte.
  void roundtrip(uint32_t len, std::span<const uint32_t> segs = {}) {
    SCOPED_TRACE("frame length " + std::to_string(len));
    const auto frame = make_frame(len, len);
    refill_b();
    ASSERT_TRUE(a.send(0, frame, segs));
    ASSERT_EQ(forward_burst(dev_a, dev_b), 1);
    std::string err;
    auto r = b.receive(0, &err);
    ASSERT_TRUE(r.has_value()) << "nothing received";
    ASSERT_EQ(err, "");
    ASSERT_EQ(r->frame.size(), frame.size());
    ASSERT_TRUE(r->frame == frame) << "payload differs";
    if (GetParam().mrg) {
      EXPECT_EQ(r->buffers, (12 + len + 1535) / 1536);
    }
    EXPECT_EQ(a.reap_tx(0), 1);  // the TX chain was completed after the copy
    EXPECT_FALSE(b.receive(0).has_value());
  }

  GuestHarness a{opts()}, b{opts()};
  VirtioNetDevice dev_a{DeviceConfig{.name = "a"}}, dev_b{DeviceConfig{.name = "b"}};
};

TEST_P(Datapath, EverySmallFrameSize) {
  for (uint32_t len = 14; len <= 4200; ++len) {
    roundtrip(len);
    if (HasFatalFailure()) return;
  }
  const auto tx = dev_a.queue_stats(1);
  const auto rx = dev_b.queue_stats(0);
  EXPECT_EQ(tx.packets, 4200u - 13);
  EXPECT_EQ(rx.packets, 4200u - 13);
  EXPECT_EQ(tx.bytes, rx.bytes);
  EXPECT_EQ(tx.total_drops() + rx.total_drops(), 0u);
}

TEST_P(Datapath, LargeFramesUpTo64K) {
  for (uint32_t len = 4201; len < 65535; len += 251) {
    roundtrip(len);
    if (HasFatalFailure()) return;
  }
  roundtrip(65535);
}

TEST_P(Datapath, HeaderAndFrameSplitAcrossDescriptors) {
  // Header in pieces (3 + 9 bytes), header and frame sharing a descriptor, many small pieces.
  const uint32_t hdr_split[] = {3, 9};
  const uint32_t shared[] = {20};
  const uint32_t small[] = {1, 1, 10, 7, 64, 5, 100, 3, 200, 1, 1, 1, 999};
  for (uint32_t len : {14u, 60u, 1514u, 9000u}) {
    roundtrip(len, hdr_split);
    roundtrip(len, shared);
    roundtrip(len, small);
    if (HasFatalFailure()) return;
  }
}

TEST_P(Datapath, BurstsOfManyFrames) {
  // 3 bursts' worth queued at once: the device pops 32 per call, in order.
  std::vector<std::vector<uint8_t>> sent;
  b.post_rx(0, 200, rx_buf_bytes());
  for (uint32_t i = 0; i < 96; ++i) {
    sent.push_back(make_frame(60 + i * 13, i));
    ASSERT_TRUE(a.send(0, sent.back()));
  }
  EXPECT_EQ(forward_burst(dev_a, dev_b), 32);
  EXPECT_EQ(forward_burst(dev_a, dev_b), 32);
  EXPECT_EQ(forward_burst(dev_a, dev_b), 32);
  EXPECT_EQ(forward_burst(dev_a, dev_b), 0);
  for (const auto& f : sent) {
    auto r = b.receive(0);
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE(r->frame == f);
  }
  EXPECT_EQ(a.reap_tx(0), 96);
}

INSTANTIATE_TEST_SUITE_P(Modes, Datapath,
                         testing::all_feature_modes(), testing::feature_mode_name);

TEST(DatapathLegacy, TenByteHeaderWithoutVersion1OrMrg) {
  GuestOptions o;
  o.version_1 = false;
  o.mrg_rxbuf = false;
  o.extra_features = virtio::bit(virtio::kNetFCsum) | virtio::bit(virtio::kNetFGuestCsum);
  GuestHarness a(o), b(o);
  ASSERT_EQ(a.hdr_len(), 10u);
  VirtioNetDevice da(DeviceConfig{.name = "a"}), db(DeviceConfig{.name = "b"});
  a.attach(da);
  b.attach(db);
  b.post_rx(0, 4, 2000);
  virtio::NetHdr hdr{};
  hdr.flags = virtio::kNetHdrFNeedsCsum;
  hdr.csum_start = 34;
  hdr.csum_offset = 16;
  const auto frame = make_frame(1514, 7);
  const uint32_t segs[] = {4, 6};
  ASSERT_TRUE(a.send(0, frame, segs, hdr));
  ASSERT_EQ(forward_burst(da, db), 1);
  auto r = b.receive(0);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->frame == frame);
  // Both negotiated checksum offload: the fields pass through unchanged.
  EXPECT_EQ(r->hdr.flags, virtio::kNetHdrFNeedsCsum);
  EXPECT_EQ(r->hdr.csum_start, 34);
  EXPECT_EQ(r->hdr.csum_offset, 16);
}

TEST(DatapathRxScatter, RxBuffersSplitIntoManyDescriptors) {
  GuestOptions o;
  GuestHarness a(o), b(o);
  VirtioNetDevice da(DeviceConfig{.name = "a"}), db(DeviceConfig{.name = "b"});
  a.attach(da);
  b.attach(db);
  // Every RX buffer spread over 9 descriptors (444 bytes each).
  b.post_rx(0, 16, 4000, 9);
  for (uint32_t len : {14u, 1000u, 9000u}) {
    const auto frame = make_frame(len, 3);
    ASSERT_TRUE(a.send(0, frame));
    ASSERT_EQ(forward_burst(da, db), 1);
    auto r = b.receive(0);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->frame == frame) << len;
    EXPECT_EQ(r->buffers, (len + 12 + 3999) / 4000);
  }
}

}  // namespace
}  // namespace vnet::device
