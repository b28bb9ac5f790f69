// Driver-side add / kick / get_buf / callback rules, checked against the device side or the
// raw ring memory.
#include "virtio/split_ring_driver.h"

#include <gtest/gtest.h>

#include "virtio/ring_fixture.h"

namespace vnet::virtio {
namespace {

using testing::RingMemory;

int tokens[64];

TEST(DriverRing, DirectChainAndFreeList) {
  RingMemory m(8, 1 << 16);
  SplitRingDriver drv(m.driver_config(false, false));
  EXPECT_EQ(drv.num_free(), 8);
  Segment out[] = {{m.data_gpa(), 10}, {m.data_gpa() + 100, 20}};
  Segment in[] = {{m.data_gpa() + 200, 30}};
  ASSERT_EQ(drv.add(out, in, &tokens[0]), AddStatus::ok);
  EXPECT_EQ(drv.num_free(), 5);
  EXPECT_EQ(m.d(0).flags, kDescFNext);
  EXPECT_EQ(m.d(m.d(0).next).len, 20u);
  EXPECT_EQ(*reinterpret_cast<uint16_t*>(m.avail() + kRingIdxOff), 1) << "avail idx published by add";

  SplitRingDevice dev;
  dev.configure(m.device_config(false));
  Chain c;
  ASSERT_EQ(dev.pop(*m.table, c), PopStatus::chain);
  EXPECT_EQ(c.nreadable, 2);
  EXPECT_EQ(c.nwritable, 1);
  dev.push_used(c.head, 30);
  dev.publish_used();

  auto u = drv.get_buf();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->token, &tokens[0]);
  EXPECT_EQ(u->len, 30u);
  EXPECT_FALSE(u->len_error);
  EXPECT_EQ(drv.num_free(), 8) << "detach returns every descriptor";
  EXPECT_FALSE(drv.get_buf());
}

TEST(DriverRing, NoSpaceWhenRingFull) {
  RingMemory m(4, 1 << 16);
  SplitRingDriver drv(m.driver_config(false, false));
  Segment s[] = {{m.data_gpa(), 1}, {m.data_gpa(), 1}, {m.data_gpa(), 1}};
  ASSERT_EQ(drv.add(s, {}, &tokens[0]), AddStatus::ok);
  EXPECT_EQ(drv.add(s, {}, &tokens[1]), AddStatus::no_space);
  EXPECT_EQ(drv.add({}, {}, &tokens[1]), AddStatus::bad_args);
  EXPECT_EQ(drv.add(std::span(s, 1), {}, nullptr), AddStatus::bad_args);
}

TEST(DriverRing, IndirectUsesOneRingDescriptor) {
  RingMemory m(8, 1 << 16, 4);
  SplitRingDriver drv(m.driver_config(false, true));
  Segment out[] = {{m.data_gpa(), 12}, {m.data_gpa() + 64, 60}};
  Segment in[] = {{m.data_gpa() + 512, 100}};
  ASSERT_EQ(drv.add(out, in, &tokens[0]), AddStatus::ok);
  EXPECT_EQ(drv.num_free(), 7);
  EXPECT_EQ(m.d(0).flags, kDescFIndirect);
  EXPECT_EQ(m.d(0).len, 48u);
  // Single segment: direct even with indirect on; more than indirect_max: direct too.
  Segment one[] = {{m.data_gpa(), 1}};
  ASSERT_EQ(drv.add(one, {}, &tokens[1]), AddStatus::ok);
  EXPECT_EQ(m.d(1).flags, 0);
  Segment five[5] = {{m.data_gpa(), 1}, {m.data_gpa(), 1}, {m.data_gpa(), 1}, {m.data_gpa(), 1}, {m.data_gpa(), 1}};
  ASSERT_EQ(drv.add(five, {}, &tokens[2]), AddStatus::ok);
  EXPECT_EQ(drv.num_free(), 1);

  SplitRingDevice dev;
  dev.configure(m.device_config(false));
  Chain c;
  ASSERT_EQ(dev.pop(*m.table, c), PopStatus::chain);
  EXPECT_EQ(c.readable_bytes, 72u);
  EXPECT_EQ(c.writable_bytes, 100u);
}

TEST(DriverRing, UsedLenLargerThanBufferIsReported) {
  RingMemory m(4, 1 << 16);
  SplitRingDriver drv(m.driver_config(false, false));
  Segment in[] = {{m.data_gpa(), 100}};
  ASSERT_EQ(drv.add({}, in, &tokens[0]), AddStatus::ok);
  SplitRingDevice dev;
  dev.configure(m.device_config(false));
  Chain c;
  ASSERT_EQ(dev.pop(*m.table, c), PopStatus::chain);
  dev.push_used(c.head, 5000);
  dev.publish_used();
  auto u = drv.get_buf();
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->len_error);
  EXPECT_EQ(u->len, 100u);
  EXPECT_EQ(drv.len_errors(), 1u);
}

TEST(DriverRing, UsedIdNotInFlightBreaksRing) {
  RingMemory m(4, 1 << 16);
  SplitRingDriver drv(m.driver_config(false, false));
  SplitRingDevice dev;
  dev.configure(m.device_config(false));
  dev.push_used(2, 0);  // nothing was added
  dev.publish_used();
  EXPECT_FALSE(drv.get_buf());
  EXPECT_TRUE(drv.broken());
  EXPECT_EQ(drv.error(), RingError::used_id_bad);
}

TEST(DriverRing, KickPrepareWithoutEventIdxFollowsNoNotify) {
  RingMemory m(4, 1 << 16);
  SplitRingDriver drv(m.driver_config(false, false));
  Segment s[] = {{m.data_gpa(), 1}};
  ASSERT_EQ(drv.add(s, {}, &tokens[0]), AddStatus::ok);
  EXPECT_TRUE(drv.kick_prepare());
  *reinterpret_cast<uint16_t*>(m.used() + kRingFlagsOff) = kUsedFNoNotify;
  ASSERT_EQ(drv.add(s, {}, &tokens[1]), AddStatus::ok);
  EXPECT_FALSE(drv.kick_prepare());
}

TEST(DriverRing, CallbackSuppressionWithoutEventIdx) {
  RingMemory m(4, 1 << 16);
  SplitRingDriver drv(m.driver_config(false, false));
  drv.disable_cb();
  EXPECT_EQ(*reinterpret_cast<uint16_t*>(m.avail() + kRingFlagsOff), kAvailFNoInterrupt);
  uint16_t last = drv.enable_cb_prepare();
  EXPECT_EQ(*reinterpret_cast<uint16_t*>(m.avail() + kRingFlagsOff), 0);
  EXPECT_FALSE(drv.poll(last));
  Segment s[] = {{m.data_gpa(), 1}};
  ASSERT_EQ(drv.add(s, {}, &tokens[0]), AddStatus::ok);
  SplitRingDevice dev;
  dev.configure(m.device_config(false));
  Chain c;
  ASSERT_EQ(dev.pop(*m.table, c), PopStatus::chain);
  dev.push_used(c.head, 0);
  dev.publish_used();
  EXPECT_TRUE(drv.poll(last)) << "the NAPI re-check sees the completion that raced with enable";
}

}  // namespace
}  // namespace vnet::virtio
