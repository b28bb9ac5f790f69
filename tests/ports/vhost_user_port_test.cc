// VhostUserPort as the poll threads see it: dataplane::Port over a device whose rings a fake
// guest drives (queue count, receive / receive_done / transmit, wait fd, notifications).
#include "ports/vhost_user_port.h"

#include <gtest/gtest.h>

#include "device/frame_pattern.h"
#include "device/guest_harness.h"

namespace vnet::ports {
namespace {

using device::testing::GuestHarness;
using device::testing::GuestOptions;
using device::testing::make_frame;

GuestOptions opts() {
  GuestOptions o;
  o.qsize = 64;
  o.slot_bytes = 4096;
  return o;
}

TEST(VhostUserPort, BehavesAsADataplanePort) {
  GuestHarness ga(opts()), gb(opts());
  auto a = make_vhost_user_port("vm1");
  auto b = make_vhost_user_port("vm2");
  dataplane::Port& pa = *a;
  dataplane::Port& pb = *b;
  EXPECT_EQ(pa.name(), "vm1");
  EXPECT_EQ(pa.num_queues(), 0);  // no front-end yet
  EXPECT_EQ(pa.wait_fd(0), -1);
  dataplane::Packet pkts[dataplane::kBurstSize];
  EXPECT_EQ(pa.receive(0, pkts, dataplane::kBurstSize), 0);
  pa.receive_done(0);

  ga.attach(a->device());
  gb.attach(b->device());
  EXPECT_EQ(pa.num_queues(), 1);
  EXPECT_EQ(pa.wait_fd(0), ga.queue(1).kick.get());

  gb.post_rx(0, 10, 1536);
  const auto f = make_frame(1514, 1);
  ASSERT_TRUE(ga.send(0, f));
  pa.disable_notify(0);
  const uint16_t n = pa.receive(0, pkts, dataplane::kBurstSize);
  ASSERT_EQ(n, 1);
  EXPECT_EQ(pkts[0].len, 1514u);
  EXPECT_EQ(0, std::memcmp(pkts[0].eth, f.data(), dataplane::kEthHeaderCopy));
  dataplane::TxItem item{&pkts[0], dataplane::VlanEdit::none, 0};
  pb.transmit(0, &item, 1);
  EXPECT_EQ(ga.reap_tx(0), 0);  // not completed before receive_done
  pa.receive_done(0);
  EXPECT_EQ(ga.reap_tx(0), 1);
  auto r = gb.receive(0);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->frame == f);
  EXPECT_FALSE(pa.enable_notify(0));  // nothing pending: may sleep on wait_fd
  EXPECT_EQ(a->device().queue_stats(1).packets, 1u);
  EXPECT_EQ(b->device().queue_stats(0).packets, 1u);
}

}  // namespace
}  // namespace vnet::ports
