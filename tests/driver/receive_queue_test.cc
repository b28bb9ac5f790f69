// RX: initial fill and refill policy, big and mergeable receive, and what the driver does when
// the device writes bad used entries (counted by kind, buffers recycled, never a crash or a
// read outside the driver's buffers).
#include <gtest/gtest.h>

#include "driver/driver_rig.h"

namespace vnet::driver::testing {
namespace {

using namespace virtio;

uint16_t avail_idx(DeviceHarness& h, uint32_t v) {
  auto& r = h.vrings.at(v);
  return *reinterpret_cast<uint16_t*>(h.table->va_to_host(r.avail, 4) + kRingIdxOff);
}

TEST(DriverRx, FillPostsEveryBufferBeforeStartAndKicks) {
  Rig r;
  EXPECT_EQ(avail_idx(r.h, 0), 16);
  EXPECT_EQ(r.drv->rx(0).num_free(), 0);
  EXPECT_EQ(r.drv->rx(0).stats().buffers_posted.get(), 16u);
  EXPECT_GE(r.h.kicks(0), 1u) << "RX ring kicked once after start";
}

TEST(DriverRx, RefillOnlyWhenMoreThanHalfFree) {
  Rig r;
  Collect c;
  for (int i = 0; i < 8; ++i) ASSERT_EQ(r.h.deliver(0, make_frame(60, i)), 1);
  EXPECT_EQ(r.drv->rx(0).poll(64, c), 8);
  EXPECT_EQ(r.drv->rx(0).num_free(), 8) << "exactly half free: no refill yet";
  EXPECT_EQ(avail_idx(r.h, 0), 16);
  ASSERT_EQ(r.h.deliver(0, make_frame(60, 9)), 1);
  EXPECT_EQ(r.drv->rx(0).poll(64, c), 1);
  EXPECT_EQ(r.drv->rx(0).num_free(), 0) << "more than half free: refilled completely";
  EXPECT_EQ(avail_idx(r.h, 0), 16 + 9);
  EXPECT_EQ(r.drv->rx(0).stats().buffers_posted.get(), 25u);
  EXPECT_EQ(c.frames.size(), 9u);
}

TEST(DriverRx, BudgetLimitsOnePoll) {
  Rig r;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(r.h.deliver(0, make_frame(100, i)), 1);
  Collect c;
  EXPECT_EQ(r.drv->rx(0).poll(4, c), 4);
  EXPECT_EQ(r.drv->rx(0).poll(4, c), 4);
  EXPECT_EQ(r.drv->rx(0).poll(4, c), 2);
  EXPECT_EQ(r.drv->rx(0).poll(4, c), 0);
  ASSERT_EQ(c.frames.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(c.frames[i], make_frame(100, i)) << i;
  EXPECT_EQ(r.drv->rx(0).stats().empty_polls.get(), 1u);
}

TEST(DriverRx, MergeableReassemblyAcrossBuffers) {
  DriverConfig cfg = Rig::small_config();
  cfg.mrg_buf_size = 512;
  cfg.mtu = 9000;
  Rig r(cfg);
  ASSERT_TRUE(r.drv->mergeable());
  const auto big = make_frame(1500, 7);
  ASSERT_EQ(r.h.deliver(0, big), 3) << "12 + 1500 bytes in 512-byte buffers";
  const auto small = make_frame(60, 1);
  ASSERT_EQ(r.h.deliver(0, small), 1);
  Collect c;
  EXPECT_EQ(r.drv->rx(0).poll(64, c), 2);
  ASSERT_EQ(c.frames.size(), 2u);
  EXPECT_EQ(c.frames[0], big);
  EXPECT_EQ(c.nsegs[0], 3);
  EXPECT_EQ(c.hdrs[0].num_buffers, 3);
  EXPECT_EQ(c.frames[1], small);
  EXPECT_EQ(r.drv->rx(0).stats().packets.get(), 2u);
  EXPECT_EQ(r.drv->rx(0).stats().bytes.get(), 1560u);
}

TEST(DriverRx, MergeableJumboFramesOfManySizes) {
  DriverConfig cfg = Rig::small_config();
  cfg.queue_size = 64;
  cfg.mtu = 9000;
  Rig r(cfg);
  Collect c;
  for (size_t len : {60u, 61u, 2036u, 2037u, 4000u, 9014u}) {
    ASSERT_GT(r.h.deliver(0, make_frame(len, static_cast<uint8_t>(len))), 0) << len;
    ASSERT_EQ(r.drv->rx(0).poll(64, c), 1) << len;
    EXPECT_EQ(c.frames.back(), make_frame(len, static_cast<uint8_t>(len))) << len;
  }
  EXPECT_EQ(r.drv->rx(0).stats().drops.get(), 0u);
}

TEST(DriverRx, BigBuffersHoldAJumboFrame) {
  DriverConfig cfg = Rig::small_config();
  cfg.mrg_rxbuf = false;
  cfg.mtu = 9000;
  Rig r(cfg);
  ASSERT_FALSE(r.drv->mergeable());
  const auto f = make_frame(9014, 5);
  ASSERT_EQ(r.h.deliver(0, f), 1);
  Collect c;
  EXPECT_EQ(r.drv->rx(0).poll(8, c), 1);
  ASSERT_EQ(c.frames.size(), 1u);
  EXPECT_EQ(c.frames[0], f);
  EXPECT_EQ(c.hdrs[0].num_buffers, 1);
}

// --- malformed device behaviour ---

struct BadRx : ::testing::Test {
  Rig r{[] {
    DriverConfig c = Rig::small_config();
    c.mrg_buf_size = 512;
    return c;
  }()};
  Collect c;
  virtio::Chain ch;
  uint32_t hl() { return r.h.hdr_len(); }
  // Pops one RX buffer and writes a header with num_buffers there.
  uint16_t pop_with_hdr(uint16_t num_buffers, uint8_t gso = kNetHdrGsoNone, uint8_t flags = 0) {
    EXPECT_TRUE(r.h.pop_raw(0, ch));
    NetHdr h{};
    h.num_buffers = num_buffers;
    h.gso_type = gso;
    h.flags = flags;
    std::memcpy(ch.writable()[0].data, &h, sizeof(h));
    std::memcpy(ch.writable()[0].data + hl(), make_frame(100).data(), 100);
    return ch.head;
  }
  // A good frame after the bad one must still arrive: the queue keeps working.
  void expect_still_works() {
    const auto f = make_frame(300, 42);
    ASSERT_EQ(r.h.deliver(0, f), 1);
    c.frames.clear();
    EXPECT_EQ(r.drv->rx(0).poll(64, c), 1);
    ASSERT_EQ(c.frames.size(), 1u);
    EXPECT_EQ(c.frames[0], f);
    r.drv->rx(0).poll(64, c);
    // Every buffer is back with the device or in the free list after a refill.
    EXPECT_LE(r.drv->rx(0).num_free(), 8);
  }
  const RxQueueStats& st() { return r.drv->rx(0).stats(); }
};

TEST_F(BadRx, UsedLenLargerThanBuffer) {
  r.h.push_raw(0, pop_with_hdr(1), 512 + 1000);
  r.h.publish(0);
  EXPECT_EQ(r.drv->rx(0).poll(64, c), 1);
  EXPECT_TRUE(c.frames.empty());
  EXPECT_EQ(st().error(RxError::len_exceeds_buffer), 1u);
  EXPECT_EQ(st().length_errors(), 1u);
  EXPECT_EQ(st().drops.get(), 1u);
  expect_still_works();
}

TEST_F(BadRx, UsedLenLargerThanBufferDrainsTheOtherBuffers) {
  const uint16_t a = pop_with_hdr(3);
  ASSERT_TRUE(r.h.pop_raw(0, ch));
  const uint16_t b = ch.head;
  ASSERT_TRUE(r.h.pop_raw(0, ch));
  r.h.push_raw(0, a, 100000);
  r.h.push_raw(0, b, 512);
  r.h.push_raw(0, ch.head, 10);
  r.h.publish(0);
  EXPECT_EQ(r.drv->rx(0).poll(64, c), 1) << "one frame, three buffers";
  EXPECT_EQ(st().error(RxError::len_exceeds_buffer), 1u);
  expect_still_works();
}

TEST_F(BadRx, ShortFrames) {
  r.h.push_raw(0, pop_with_hdr(1), hl() + 13);
  r.h.push_raw(0, pop_with_hdr(1), 0);
  r.h.push_raw(0, pop_with_hdr(1), 5);
  r.h.publish(0);
  EXPECT_EQ(r.drv->rx(0).poll(64, c), 3);
  EXPECT_TRUE(c.frames.empty());
  EXPECT_EQ(st().error(RxError::short_frame), 3u);
  EXPECT_EQ(st().length_errors(), 3u);
  expect_still_works();
}

TEST_F(BadRx, NumBuffersZeroOrTooMany) {
  r.h.push_raw(0, pop_with_hdr(0), hl() + 100);
  r.h.push_raw(0, pop_with_hdr(17), hl() + 100);   // more than the ring holds
  r.h.push_raw(0, pop_with_hdr(0xffff), hl() + 100);
  r.h.publish(0);
  EXPECT_EQ(r.drv->rx(0).poll(64, c), 3);
  EXPECT_TRUE(c.frames.empty());
  EXPECT_EQ(st().error(RxError::bad_num_buffers), 3u);
  EXPECT_EQ(st().frame_errors(), 3u);
  expect_still_works();
}

TEST_F(BadRx, NumBuffersRunsPastAvailable) {
  r.h.push_raw(0, pop_with_hdr(4), hl() + 100);
  ASSERT_TRUE(r.h.pop_raw(0, ch));
  r.h.push_raw(0, ch.head, 200);
  r.h.publish(0);
  EXPECT_EQ(r.drv->rx(0).poll(64, c), 1);
  EXPECT_TRUE(c.frames.empty());
  EXPECT_EQ(st().error(RxError::buffers_missing), 1u);
  EXPECT_EQ(st().length_errors(), 1u);
  expect_still_works();
}

TEST_F(BadRx, GsoNotNegotiated) {
  r.h.push_raw(0, pop_with_hdr(1, kNetHdrGsoTcpv4), hl() + 100);
  r.h.push_raw(0, pop_with_hdr(1, 77), hl() + 100);
  r.h.push_raw(0, pop_with_hdr(1, kNetHdrGsoNone, 0x80), hl() + 100);
  r.h.publish(0);
  EXPECT_EQ(r.drv->rx(0).poll(64, c), 3);
  EXPECT_TRUE(c.frames.empty());
  EXPECT_EQ(st().error(RxError::bad_gso), 3u);
  EXPECT_EQ(st().frame_errors(), 3u);
  expect_still_works();
}

TEST_F(BadRx, UsedIdNotInFlightStopsTheQueue) {
  pop_with_hdr(1);
  r.h.push_raw(0, 70000, hl() + 100);  // id beyond the ring
  r.h.publish(0);
  EXPECT_EQ(r.drv->rx(0).poll(64, c), 0);
  EXPECT_TRUE(r.drv->rx(0).broken());
  EXPECT_EQ(st().ring_errors.get(), 1u);
  EXPECT_EQ(r.drv->rx(0).poll(64, c), 0) << "a broken queue stays quiet";
  EXPECT_EQ(r.drv->rx(0).poll(64, c, PollMode::interrupt), 0) << "and does not spin in re-check";
  EXPECT_EQ(st().ring_errors.get(), 1u) << "counted once";
  EXPECT_TRUE(c.frames.empty());
}

TEST_F(BadRx, DuplicateUsedIdStopsTheQueue) {
  const uint16_t a = pop_with_hdr(1);
  r.h.push_raw(0, a, hl() + 100);
  r.h.push_raw(0, a, hl() + 100);  // the same buffer twice: no longer in flight
  r.h.publish(0);
  r.drv->rx(0).poll(64, c);
  EXPECT_EQ(c.frames.size(), 1u) << "the first use is a good frame";
  EXPECT_TRUE(r.drv->rx(0).broken());
  EXPECT_EQ(st().ring_errors.get(), 1u);
}

// --- notifications ---

TEST(DriverRxNotify, InterruptModeArmsAndWakes) {
  for (bool event_idx : {true, false}) {
    DriverConfig cfg = Rig::small_config();
    cfg.event_idx = event_idx;
    Rig r(cfg);
    Collect c;
    EXPECT_EQ(r.drv->rx(0).poll(32, c, PollMode::interrupt), 0);
    EXPECT_FALSE(r.drv->rx(0).wait(0)) << "nothing signalled yet";
    ASSERT_EQ(r.h.deliver(0, make_frame(64, 1)), 1);
    EXPECT_EQ(r.h.interrupts, 1u) << "armed: the device interrupts (event_idx=" << event_idx << ")";
    EXPECT_TRUE(r.drv->rx(0).wait(1000));
    EXPECT_EQ(r.drv->rx(0).poll(32, c, PollMode::busy), 1);
    // Busy polling keeps callbacks off: no interrupt for the next frame.
    ASSERT_EQ(r.h.deliver(0, make_frame(64, 2)), 1);
    EXPECT_EQ(r.h.interrupts, event_idx ? 1u : 1u);
    EXPECT_EQ(r.drv->rx(0).poll(32, c, PollMode::busy), 1);
    EXPECT_EQ(r.drv->rx(0).stats().interrupts.get(), 1u);
  }
}

TEST(DriverRxNotify, FramePublishedWithoutInterruptIsPolled) {
  Rig r;
  Collect c;
  // The device publishes without interrupting (as if it saw callbacks off a moment earlier):
  // an interrupt-mode poll still picks the frame up.
  ASSERT_EQ(r.h.deliver(0, make_frame(64, 1), {}, false), 1);
  r.h.ring(0).publish_used();
  EXPECT_EQ(r.drv->rx(0).poll(32, c, PollMode::interrupt), 1);
  EXPECT_EQ(c.frames.size(), 1u);
}

}  // namespace
}  // namespace vnet::driver::testing
