// Drop cases of the TX and RX engines, each with its exact counter, and the rule that a drop
// never blocks the queue: chains are completed or given back and traffic goes on.
#include <gtest/gtest.h>

#include "device/frame_pattern.h"
#include "device/guest_harness.h"

namespace vnet::device {
namespace {

using testing::forward_burst;
using testing::GuestHarness;
using testing::GuestOptions;
using testing::make_frame;

GuestOptions with_mrg(bool mrg) {
  GuestOptions o;
  o.mrg_rxbuf = mrg;
  o.qsize = 64;
  return o;
}

class Drops : public ::testing::Test {
 protected:
  void start(bool mrg, uint32_t max_frame_len = 65535) {
    a = std::make_unique<GuestHarness>(with_mrg(mrg));
    b = std::make_unique<GuestHarness>(with_mrg(mrg));
    da = std::make_unique<VirtioNetDevice>(DeviceConfig{.name = "a", .max_frame_len = max_frame_len});
    db = std::make_unique<VirtioNetDevice>(DeviceConfig{.name = "b"});
    a->attach(*da);
    b->attach(*db);
  }
  QueueStats tx() const { return da->queue_stats(1); }
  QueueStats rx() const { return db->queue_stats(0); }
  // Checks that a good frame still goes through afterwards.
  void expect_flows(uint32_t len = 100) {
    const auto f = make_frame(len, 99);
    ASSERT_TRUE(a->send(0, f));
    ASSERT_EQ(forward_burst(*da, *db), 1);
    auto r = b->receive(0);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->frame == f);
  }
  std::unique_ptr<GuestHarness> a, b;
  std::unique_ptr<VirtioNetDevice> da, db;
};

TEST_F(Drops, NoRxBufferDropsAndStillCompletesTx) {
  start(true);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a->send(0, make_frame(200, i)));
  EXPECT_EQ(forward_burst(*da, *db), 5);
  EXPECT_EQ(rx().drop(DropReason::no_rx_buffer), 5u);
  EXPECT_EQ(rx().packets, 0u);
  EXPECT_EQ(tx().packets, 5u);
  EXPECT_EQ(a->reap_tx(0), 5);  // the sender is never held up by a full receiver
  b->post_rx(0, 4, 1536);
  expect_flows();
  EXPECT_EQ(rx().total_drops(), 5u);
}

TEST_F(Drops, TooBigWithoutMergeableGivesTheChainBack) {
  start(false);
  b->post_rx(0, 1, 1000);
  ASSERT_TRUE(a->send(0, make_frame(1500, 1)));
  EXPECT_EQ(forward_burst(*da, *db), 1);
  EXPECT_EQ(rx().drop(DropReason::too_big), 1u);
  EXPECT_FALSE(b->receive(0).has_value());
  // The 1000-byte buffer was given back, not consumed: a small frame lands in it.
  expect_flows(500);
  EXPECT_EQ(rx().packets, 1u);
}

TEST_F(Drops, MergeableFrameWithTooFewBuffersIsDroppedWhole) {
  start(true);
  b->post_rx(0, 2, 1536);  // 3072 bytes, the frame needs 4012 + 12
  ASSERT_TRUE(a->send(0, make_frame(4000, 2)));
  EXPECT_EQ(forward_burst(*da, *db), 1);
  EXPECT_EQ(rx().drop(DropReason::no_rx_buffer), 1u);
  EXPECT_FALSE(b->receive(0).has_value());  // no partial frame is ever visible
  b->post_rx(0, 1, 1536);
  expect_flows(4000);
  EXPECT_EQ(rx().packets, 1u);
}

TEST_F(Drops, RxBufferTooSmallForTheHeader) {
  start(true);
  b->post_rx(0, 1, 8);
  ASSERT_TRUE(a->send(0, make_frame(60, 2)));
  EXPECT_EQ(forward_burst(*da, *db), 1);
  // The 8-byte buffer is handed back used with len 0; the frame then finds no buffer.
  EXPECT_EQ(rx().drop(DropReason::bad_chain), 1u);
  EXPECT_EQ(rx().drop(DropReason::no_rx_buffer), 1u);
  std::string err;
  ASSERT_TRUE(b->receive(0, &err).has_value());
  EXPECT_NE(err, "");
  b->post_rx(0, 1, 1536);
  expect_flows();
}

TEST_F(Drops, ShortFrame) {
  start(true);
  b->post_rx(0, 8, 1536);
  ASSERT_TRUE(a->send(0, make_frame(13, 1)));  // header + 13 bytes: no Ethernet header
  EXPECT_EQ(forward_burst(*da, *db), 0);
  EXPECT_EQ(tx().drop(DropReason::short_frame), 1u);
  EXPECT_EQ(tx().packets, 0u);
  EXPECT_EQ(a->reap_tx(0), 1);  // completed, not leaked
  expect_flows(14);
}

TEST_F(Drops, TooLongFrame) {
  start(true, 1518);
  b->post_rx(0, 8, 1536);
  ASSERT_TRUE(a->send(0, make_frame(1519, 1)));
  ASSERT_TRUE(a->send(0, make_frame(1518, 1)));
  EXPECT_EQ(forward_burst(*da, *db), 1);
  EXPECT_EQ(tx().drop(DropReason::too_long), 1u);
  EXPECT_EQ(a->reap_tx(0), 2);
  auto r = b->receive(0);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->frame.size(), 1518u);
}

TEST_F(Drops, TxChainWithWritableDescriptorIsABadChain) {
  start(true);
  b->post_rx(0, 8, 1536);
  auto& q = a->queue(1);
  const uint64_t gpa = a->slot_gpa(q, 63);
  const virtio::Segment out[] = {{gpa, 100}};
  const virtio::Segment in[] = {{gpa + 100, 100}};
  ASSERT_EQ(q.drv->add(out, in, reinterpret_cast<void*>(uintptr_t{1000})), virtio::AddStatus::ok);
  EXPECT_EQ(forward_burst(*da, *db), 0);
  EXPECT_EQ(tx().drop(DropReason::bad_chain), 1u);
  EXPECT_EQ(tx().ring_errors, 0u);  // a bad chain is not a broken ring
  auto used = q.drv->get_buf();
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->token, reinterpret_cast<void*>(uintptr_t{1000}));
  expect_flows();
}

TEST_F(Drops, RxChainWithReadableDescriptorIsABadChain) {
  start(true);
  auto& q = b->queue(0);
  const uint64_t gpa = b->slot_gpa(q, 63);
  const virtio::Segment out[] = {{gpa, 10}};
  const virtio::Segment in[] = {{gpa + 10, 1536}};
  ASSERT_EQ(q.drv->add(out, in, reinterpret_cast<void*>(uintptr_t{1000})), virtio::AddStatus::ok);
  ASSERT_TRUE(a->send(0, make_frame(100, 1)));
  EXPECT_EQ(forward_burst(*da, *db), 1);
  EXPECT_EQ(rx().drop(DropReason::bad_chain), 1u);
  EXPECT_EQ(rx().drop(DropReason::no_rx_buffer), 1u);
  auto used = q.drv->get_buf();  // returned, not leaked
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->len, 0u);
  b->post_rx(0, 1, 1536);
  expect_flows();
}

TEST_F(Drops, DisabledTxRingIsDrainedAndDiscarded) {
  start(true);
  b->post_rx(0, 8, 1536);
  da->enable_ring(1, false);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(a->send(0, make_frame(100, i)));
  EXPECT_EQ(forward_burst(*da, *db), 0);
  EXPECT_EQ(tx().drop(DropReason::disabled), 3u);
  EXPECT_EQ(a->reap_tx(0), 3);
  EXPECT_FALSE(b->receive(0).has_value());
  da->enable_ring(1, true);
  expect_flows();
}

TEST_F(Drops, DisabledRxRingGetsNothing) {
  start(true);
  b->post_rx(0, 8, 1536);
  db->enable_ring(0, false);
  ASSERT_TRUE(a->send(0, make_frame(100, 1)));
  EXPECT_EQ(forward_burst(*da, *db), 1);
  EXPECT_EQ(rx().drop(DropReason::disabled), 1u);
  EXPECT_FALSE(b->receive(0).has_value());
  db->enable_ring(0, true);
  expect_flows();
}

TEST_F(Drops, QueueThatIsNotStartedDropsAsNotStarted) {
  start(true);
  db->stop_ring(0);
  ASSERT_TRUE(a->send(0, make_frame(100, 1)));
  EXPECT_EQ(forward_burst(*da, *db), 1);
  EXPECT_EQ(rx().drop(DropReason::not_started), 1u);
  EXPECT_EQ(rx().drop(DropReason::no_rx_buffer), 0u);
}

}  // namespace
}  // namespace vnet::device
