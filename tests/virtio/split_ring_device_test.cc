// Device-side pop / push / notify rules, including every malformed-ring case.
#include "virtio/split_ring_device.h"

#include <gtest/gtest.h>

#include "virtio/ring_fixture.h"

namespace vnet::virtio {
namespace {

using testing::RingMemory;

class DeviceRing : public ::testing::Test {
 protected:
  RingMemory m{16, 1 << 20};
  SplitRingDevice dev;
  Chain chain;
  void SetUp() override { dev.configure(m.device_config(false)); }
  uint64_t buf(size_t off) { return m.data_gpa() + off; }
  PopStatus pop() { return dev.pop(*m.table, chain); }
  void expect_broken(RingError e) {
    EXPECT_EQ(pop(), PopStatus::broken);
    EXPECT_EQ(dev.error(), e) << to_string(dev.error());
    // Stays broken: no further pops.
    EXPECT_EQ(pop(), PopStatus::broken);
  }
};

TEST_F(DeviceRing, EmptyRingPopsNothing) { EXPECT_EQ(pop(), PopStatus::empty); }

TEST_F(DeviceRing, PopsReadableThenWritableSpansInPlace) {
  m.d(3) = {buf(0), 10, kDescFNext, 5};
  m.d(5) = {buf(100), 20, kDescFNext | kDescFWrite, 7};
  m.d(7) = {buf(200), 30, kDescFWrite, 0};
  m.make_avail(3);
  ASSERT_EQ(pop(), PopStatus::chain);
  EXPECT_EQ(chain.head, 3);
  EXPECT_EQ(chain.nreadable, 1);
  EXPECT_EQ(chain.nwritable, 2);
  EXPECT_EQ(chain.readable_bytes, 10u);
  EXPECT_EQ(chain.writable_bytes, 50u);
  EXPECT_EQ(chain.readable()[0].data, m.data());        // no copy: points into guest memory
  EXPECT_EQ(chain.writable()[1].data, m.data() + 200);
  EXPECT_EQ(dev.last_avail(), 1);
  EXPECT_EQ(pop(), PopStatus::empty);
}

TEST_F(DeviceRing, WalksIndirectTable) {
  auto* table = reinterpret_cast<VringDesc*>(m.data() + 4096);
  table[0] = {buf(0), 12, kDescFNext, 1};
  table[1] = {buf(64), 100, kDescFNext, 2};
  table[2] = {buf(512), 1500, kDescFWrite, 0};
  m.d(0) = {buf(4096), 48, kDescFIndirect, 0};
  m.make_avail(0);
  ASSERT_EQ(pop(), PopStatus::chain);
  EXPECT_EQ(chain.nreadable, 2);
  EXPECT_EQ(chain.nwritable, 1);
  EXPECT_EQ(chain.readable_bytes, 112u);
  EXPECT_EQ(chain.writable_bytes, 1500u);
}

TEST_F(DeviceRing, AvailIdxJumpIsAnError) {
  m.set_avail_idx(17);
  expect_broken(RingError::avail_idx_jump);
}

TEST_F(DeviceRing, HeadOutOfRange) {
  m.make_avail(16);
  expect_broken(RingError::head_out_of_range);
}

TEST_F(DeviceRing, NextOutOfRange) {
  m.d(0) = {buf(0), 10, kDescFNext, 16};
  m.make_avail(0);
  expect_broken(RingError::next_out_of_range);
}

TEST_F(DeviceRing, LoopIsDetected) {
  m.d(0) = {buf(0), 10, kDescFNext, 1};
  m.d(1) = {buf(0), 10, kDescFNext, 0};
  m.make_avail(0);
  expect_broken(RingError::chain_loop);
}

TEST_F(DeviceRing, SelfLoopInIndirectTableIsDetected) {
  auto* table = reinterpret_cast<VringDesc*>(m.data() + 4096);
  table[0] = {buf(0), 10, kDescFNext, 0};
  m.d(0) = {buf(4096), 16, kDescFIndirect, 0};
  m.make_avail(0);
  expect_broken(RingError::chain_loop);
}

TEST_F(DeviceRing, IndirectLengthZero) {
  m.d(0) = {buf(4096), 0, kDescFIndirect, 0};
  m.make_avail(0);
  expect_broken(RingError::indirect_bad_length);
}

TEST_F(DeviceRing, IndirectLengthNotMultipleOf16) {
  m.d(0) = {buf(4096), 24, kDescFIndirect, 0};
  m.make_avail(0);
  expect_broken(RingError::indirect_bad_length);
}

TEST_F(DeviceRing, NestedIndirect) {
  auto* table = reinterpret_cast<VringDesc*>(m.data() + 4096);
  table[0] = {buf(8192), 16, kDescFIndirect, 0};
  m.d(0) = {buf(4096), 16, kDescFIndirect, 0};
  m.make_avail(0);
  expect_broken(RingError::nested_indirect);
}

TEST_F(DeviceRing, IndirectWithNext) {
  m.d(0) = {buf(4096), 16, kDescFIndirect | kDescFNext, 1};
  m.make_avail(0);
  expect_broken(RingError::indirect_with_next);
}

TEST_F(DeviceRing, ReadableAfterWritable) {
  m.d(0) = {buf(0), 10, kDescFNext | kDescFWrite, 1};
  m.d(1) = {buf(0), 10, 0, 0};
  m.make_avail(0);
  expect_broken(RingError::readable_after_writable);
}

TEST_F(DeviceRing, AddressNotMapped) {
  m.d(0) = {m.total - 4, 10, 0, 0};
  m.make_avail(0);
  expect_broken(RingError::address_not_mapped);
}

TEST_F(DeviceRing, IndirectTableNotMapped) {
  m.d(0) = {m.total + 4096, 32, kDescFIndirect, 0};
  m.make_avail(0);
  expect_broken(RingError::address_not_mapped);
}

TEST_F(DeviceRing, TotalLengthOverLimit) {
  auto cfg = m.device_config(false);
  cfg.max_chain_bytes = 1000;
  dev.configure(cfg);
  m.d(0) = {buf(0), 600, kDescFNext, 1};
  m.d(1) = {buf(0), 600, 0, 0};
  m.make_avail(0);
  expect_broken(RingError::chain_too_long);
}

// More pieces than a chain can hold (an indirect table of 1-byte descriptors): an error, not
// an overrun of the span array.
TEST_F(DeviceRing, TooManySegments) {
  constexpr uint32_t n = Chain::kMaxSpans + 1;
  auto* table = reinterpret_cast<VringDesc*>(m.data() + 8192);
  for (uint32_t i = 0; i < n; ++i)
    table[i] = {buf(i), 1, static_cast<uint16_t>(i + 1 < n ? kDescFNext : 0), static_cast<uint16_t>(i + 1)};
  m.d(0) = {buf(8192), n * 16, kDescFIndirect, 0};
  m.make_avail(0);
  expect_broken(RingError::too_many_segments);
}

TEST_F(DeviceRing, ExactlyMaxSegmentsIsFine) {
  constexpr uint32_t n = Chain::kMaxSpans;
  auto* table = reinterpret_cast<VringDesc*>(m.data() + 8192);
  for (uint32_t i = 0; i < n; ++i)
    table[i] = {buf(i), 1, static_cast<uint16_t>(i + 1 < n ? kDescFNext : 0), static_cast<uint16_t>(i + 1)};
  m.d(0) = {buf(8192), n * 16, kDescFIndirect, 0};
  m.make_avail(0);
  ASSERT_EQ(pop(), PopStatus::chain);
  EXPECT_EQ(chain.nreadable, n);
  EXPECT_EQ(chain.readable_bytes, n);
}

TEST_F(DeviceRing, ReconfigureClearsBrokenState) {
  m.make_avail(16);
  expect_broken(RingError::head_out_of_range);
  dev.configure(m.device_config(false));
  EXPECT_FALSE(dev.broken());
}

TEST_F(DeviceRing, PushUsedBatchWrapsAndPublishesOnce) {
  dev.set_last_avail(14);
  m.set_avail_idx(14);
  dev.sync_used_idx_from_ring();
  // Put used idx at 14 so a batch of 4 wraps at 16.
  *reinterpret_cast<uint16_t*>(m.used() + kRingIdxOff) = 14;
  dev.sync_used_idx_from_ring();
  VringUsedElem elems[4] = {{1, 10}, {2, 20}, {3, 30}, {4, 40}};
  dev.push_used_batch(elems, 4);
  EXPECT_EQ(m.used_idx(), 14) << "nothing visible before publish";
  dev.publish_used();
  EXPECT_EQ(m.used_idx(), 18);
  EXPECT_EQ(m.used_elem(14).id, 1u);
  EXPECT_EQ(m.used_elem(15).id, 2u);
  EXPECT_EQ(m.used_elem(16).id, 3u);  // slot 0
  EXPECT_EQ(m.used_elem(17).len, 40u);
}

TEST_F(DeviceRing, UnpopGivesHeadsBack) {
  m.d(0) = {buf(0), 10, 0, 0};
  m.d(1) = {buf(0), 10, 0, 0};
  m.make_avail(0);
  m.make_avail(1);
  ASSERT_EQ(pop(), PopStatus::chain);
  ASSERT_EQ(pop(), PopStatus::chain);
  dev.unpop(2);
  ASSERT_EQ(pop(), PopStatus::chain);
  EXPECT_EQ(chain.head, 0);
}

TEST_F(DeviceRing, NotifyWithoutEventIdxFollowsNoInterruptFlag) {
  dev.push_used(0, 0);
  dev.publish_used();
  EXPECT_TRUE(dev.need_notify());
  *reinterpret_cast<uint16_t*>(m.avail() + kRingFlagsOff) = kAvailFNoInterrupt;
  dev.push_used(0, 0);
  dev.publish_used();
  EXPECT_FALSE(dev.need_notify());
}

TEST_F(DeviceRing, EnableNotifyRechecksAvail) {
  dev.disable_notify();
  EXPECT_EQ(*reinterpret_cast<uint16_t*>(m.used() + kRingFlagsOff), kUsedFNoNotify);
  EXPECT_FALSE(dev.enable_notify());
  EXPECT_EQ(*reinterpret_cast<uint16_t*>(m.used() + kRingFlagsOff), 0);
  m.d(0) = {buf(0), 10, 0, 0};
  m.make_avail(0);  // a buffer that raced with enabling
  EXPECT_TRUE(dev.enable_notify());
}

TEST_F(DeviceRing, EnableNotifyWithEventIdxWritesAvailEvent) {
  dev.configure(m.device_config(true));
  m.d(0) = {buf(0), 10, 0, 0};
  m.make_avail(0);
  ASSERT_EQ(pop(), PopStatus::chain);
  EXPECT_FALSE(dev.enable_notify());
  EXPECT_EQ(*reinterpret_cast<uint16_t*>(m.used() + avail_event_off(16)), 1);
}

}  // namespace
}  // namespace vnet::virtio
