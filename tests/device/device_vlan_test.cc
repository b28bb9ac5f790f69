// VLAN edits applied while copying into the guest: push inserts 81 00 + VID after the MACs,
// pop removes bytes 12..15; both across RX buffer boundaries.
#include <gtest/gtest.h>

#include "device/frame_pattern.h"
#include "device/guest_harness.h"

namespace vnet::device {
namespace {

using dataplane::VlanEdit;
using testing::forward_burst;
using testing::GuestHarness;
using testing::GuestOptions;
using testing::make_frame;

class Vlan : public ::testing::Test {
 protected:
  void SetUp() override {
    a.attach(da);
    b.attach(db);
  }
  std::vector<uint8_t> through(const std::vector<uint8_t>& f, VlanEdit edit, uint16_t vid,
                               std::span<const uint32_t> segs = {}) {
    b.post_rx(0, 8, 1536);
    EXPECT_TRUE(a.send(0, f, segs));
    EXPECT_EQ(forward_burst(da, db, 0, edit, vid), 1);
    a.reap_tx(0);
    auto r = b.receive(0);
    EXPECT_TRUE(r.has_value());
    return r ? r->frame : std::vector<uint8_t>{};
  }
  GuestHarness a{GuestOptions{}}, b{GuestOptions{}};
  VirtioNetDevice da{DeviceConfig{.name = "a"}}, db{DeviceConfig{.name = "b"}};
};

std::vector<uint8_t> pushed(const std::vector<uint8_t>& f, uint16_t vid) {
  std::vector<uint8_t> e(f.begin(), f.begin() + 12);
  e.insert(e.end(), {0x81, 0x00, static_cast<uint8_t>(vid >> 8), static_cast<uint8_t>(vid)});
  e.insert(e.end(), f.begin() + 12, f.end());
  return e;
}

TEST_F(Vlan, PushInsertsTagAfterMacs) {
  for (uint32_t len : {14u, 60u, 1514u, 1530u, 4000u}) {  // 1530: tag pushes it over one buffer
    const auto f = make_frame(len, len);
    EXPECT_TRUE(through(f, VlanEdit::push, 100) == pushed(f, 100)) << len;
  }
  EXPECT_EQ(db.queue_stats(0).bytes, 14u + 60 + 1514 + 1530 + 4000 + 5 * 4);
}

TEST_F(Vlan, PushWithMacsSplitAcrossDescriptors) {
  const uint32_t segs[] = {12 + 5, 3, 4, 2};  // header + 5 MAC bytes | 3 | 4 | 2 | rest
  const auto f = make_frame(300, 1);
  EXPECT_TRUE(through(f, VlanEdit::push, 4095, segs) == pushed(f, 4095));
}

TEST_F(Vlan, PopRemovesTheTag) {
  for (uint32_t len : {18u, 64u, 1518u, 9000u}) {
    auto tagged = pushed(make_frame(len - 4, len), 42);
    const auto got = through(tagged, VlanEdit::pop, 0);
    EXPECT_TRUE(got == make_frame(len - 4, len)) << len;
  }
}

TEST_F(Vlan, TxMarksTaggedFrames) {
  const auto f = pushed(make_frame(100, 1), 7);
  ASSERT_TRUE(a.send(0, f));
  dataplane::Packet p[4];
  ASSERT_EQ(da.tx_receive(0, p, 4), 1);
  EXPECT_TRUE(p[0].tagged);
  EXPECT_EQ(p[0].len, 104u);
  EXPECT_EQ(0, std::memcmp(p[0].eth, f.data(), 18));
  da.tx_done(0);
}

}  // namespace
}  // namespace vnet::device
