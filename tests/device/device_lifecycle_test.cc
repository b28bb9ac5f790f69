// Ring lifecycle as the vhost-user back-end drives it: queue count, stop returning
// last_avail_idx with nothing in flight, restart resuming where it stopped, call fd changes,
// multiqueue, reset.
#include <gtest/gtest.h>

#include "device/frame_pattern.h"
#include "device/guest_harness.h"

namespace vnet::device {
namespace {

using testing::forward_burst;
using testing::GuestHarness;
using testing::GuestOptions;
using testing::make_frame;

GuestOptions opts(uint16_t qps = 1) {
  GuestOptions o;
  o.queue_pairs = qps;
  o.qsize = 64;
  o.slot_bytes = 4096;
  return o;
}

TEST(Lifecycle, OfferedFeatures) {
  VirtioNetDevice d(DeviceConfig{.queue_pairs = 4});
  const virtio::Features f = d.device_features();
  for (unsigned b : {virtio::kFVersion1, virtio::kNetFMrgRxbuf, virtio::kFRingEventIdx, virtio::kFRingIndirectDesc,
                     virtio::kNetFMq, virtio::kNetFMtu, virtio::kNetFStatus})
    EXPECT_TRUE(virtio::has(f, b)) << b;
  EXPECT_FALSE(virtio::has(f, virtio::kFRingPacked));
  for (unsigned b : {virtio::kNetFCsum, virtio::kNetFGuestCsum, virtio::kNetFHostTso4, virtio::kNetFHostTso6,
                     virtio::kNetFGuestTso4, virtio::kNetFGuestTso6, virtio::kNetFHostUso, virtio::kNetFGuestUso4,
                     virtio::kNetFGuestUso6})
    EXPECT_TRUE(virtio::has(f, b)) << b;
  // Offloads the device does not implement end to end are not offered.
  for (unsigned b : {virtio::kNetFHostUfo, virtio::kNetFGuestUfo, virtio::kNetFHostEcn, virtio::kNetFGuestEcn})
    EXPECT_FALSE(virtio::has(f, b)) << b;
  EXPECT_EQ(d.max_queue_pairs(), 4);
  EXPECT_EQ(d.num_virtqueues(), 8);
}

TEST(Lifecycle, OffloadsCanBeTurnedOff) {
  VirtioNetDevice d(DeviceConfig{.offloads = false});
  EXPECT_EQ(d.device_features() & kOffloadFeatures, 0u);
  EXPECT_TRUE(virtio::has(d.device_features(), virtio::kNetFMrgRxbuf));
}

TEST(Lifecycle, QueueCountFollowsStartedRings) {
  GuestHarness g(opts(2));
  VirtioNetDevice d(DeviceConfig{.queue_pairs = 2});
  EXPECT_EQ(d.num_started_queue_pairs(), 0);
  const uint32_t gen0 = d.generation();
  d.attach_memory(&g.memory());
  d.set_features(g.features());
  d.start_ring(g.setup(0));
  EXPECT_EQ(d.num_started_queue_pairs(), 1);
  d.start_ring(g.setup(3));
  EXPECT_EQ(d.num_started_queue_pairs(), 2);
  EXPECT_NE(d.generation(), gen0);
  EXPECT_EQ(d.tx_kick_fd(1), g.queue(3).kick.get());
  EXPECT_EQ(d.tx_kick_fd(0), -1);  // not started
  d.stop_ring(3);
  EXPECT_EQ(d.num_started_queue_pairs(), 1);
  EXPECT_EQ(d.tx_kick_fd(1), -1);
  d.stop_ring(0);
  EXPECT_EQ(d.num_started_queue_pairs(), 0);
}

// SET_VRING_ENABLE: a started but disabled pair is still polled (its TX chains are drained and
// dropped as `disabled`) but no longer usable as a destination; every change bumps the
// generation so that the datapath notices.
TEST(Lifecycle, DisabledPairIsStartedButNotUsable) {
  GuestHarness g(opts(2));
  VirtioNetDevice d(DeviceConfig{.queue_pairs = 2});
  g.attach(d);
  EXPECT_EQ(d.num_started_queue_pairs(), 2);
  EXPECT_EQ(d.num_usable_queue_pairs(), 2);

  uint32_t gen = d.generation();
  auto bumped = [&] {
    const uint32_t now = d.generation();
    const bool changed = now != gen;
    gen = now;
    return changed;
  };
  // What QEMU sends for `ethtool -L eth0 combined 1`: both rings of pair 1 disabled.
  d.enable_ring(rx_vq(1), false);
  EXPECT_EQ(d.num_usable_queue_pairs(), 1);
  EXPECT_TRUE(bumped());
  d.enable_ring(tx_vq(1), false);
  EXPECT_EQ(d.num_usable_queue_pairs(), 1);
  EXPECT_EQ(d.num_started_queue_pairs(), 2) << "disabled rings stay started (and polled)";
  EXPECT_TRUE(bumped());

  // The disabled pair's TX ring is still drained; RX on it is refused.
  ASSERT_TRUE(g.send(1, make_frame(100, 1)));
  dataplane::Packet p[4];
  EXPECT_EQ(d.tx_receive(1, p, 4), 0);
  EXPECT_EQ(g.reap_tx(1), 1) << "chain completed";
  EXPECT_EQ(d.queue_stats(tx_vq(1)).drop(DropReason::disabled), 1u);

  // Half a pair is not a usable pair.
  d.enable_ring(rx_vq(1), true);
  EXPECT_EQ(d.num_usable_queue_pairs(), 1);
  EXPECT_TRUE(bumped());
  d.enable_ring(tx_vq(1), true);
  EXPECT_EQ(d.num_usable_queue_pairs(), 2);
  EXPECT_TRUE(bumped());

  // The count is of leading usable pairs: with pair 0 disabled, pair 1 does not count.
  d.enable_ring(rx_vq(0), false);
  EXPECT_EQ(d.num_usable_queue_pairs(), 0);
  EXPECT_EQ(d.num_started_queue_pairs(), 2);
  EXPECT_TRUE(bumped());
  d.enable_ring(rx_vq(0), true);
  EXPECT_EQ(d.num_usable_queue_pairs(), 2);

  // Stopping a ring makes its pair unusable too.
  d.stop_ring(tx_vq(1));
  EXPECT_EQ(d.num_usable_queue_pairs(), 1);
  EXPECT_EQ(d.num_started_queue_pairs(), 2);  // pair 1's RX ring is still started
  EXPECT_TRUE(bumped());
}

TEST(Lifecycle, InvalidSetupsAreRefused) {
  GuestHarness g(opts());
  VirtioNetDevice d(DeviceConfig{});
  d.attach_memory(&g.memory());
  auto s = g.setup(1);
  s.index = 7;  // no such queue
  d.start_ring(s);
  s = g.setup(1);
  s.size = 48;  // not a power of two
  d.start_ring(s);
  s = g.setup(1);
  s.used = nullptr;
  d.start_ring(s);
  EXPECT_EQ(d.num_started_queue_pairs(), 0);
  EXPECT_EQ(d.stop_ring(99), 0);
  dataplane::Packet p[1];
  EXPECT_EQ(d.tx_receive(5, p, 1), 0);  // out-of-range queue pair: nothing, no crash
  d.tx_done(5);
}

TEST(Lifecycle, StopReturnsLastAvailAndRestartResumes) {
  GuestHarness a(opts()), b(opts());
  VirtioNetDevice da(DeviceConfig{.name = "a"}), db(DeviceConfig{.name = "b"});
  a.attach(da);
  b.attach(db);
  b.post_rx(0, 40, 1536);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a.send(0, make_frame(100, i)));
  EXPECT_EQ(forward_burst(da, db), 5);
  ASSERT_TRUE(a.send(0, make_frame(100, 5)));  // still in the avail ring at stop time

  // GET_VRING_BASE: 5 chains consumed, all completed (used idx == last_avail).
  EXPECT_EQ(da.stop_ring(1), 5);
  EXPECT_EQ(*reinterpret_cast<uint16_t*>(a.queue(1).ring + a.queue(1).layout.used_off + 2), 5);
  dataplane::Packet p[4];
  EXPECT_EQ(da.tx_receive(0, p, 4), 0);  // stopped: untouched
  EXPECT_EQ(a.reap_tx(0), 5);

  // SET_VRING_BASE 5 + start: the pending chain is forwarded, nothing is repeated.
  auto s = a.setup(1);
  s.last_avail_idx = 5;
  da.start_ring(s);
  EXPECT_EQ(forward_burst(da, db), 1);
  for (int i = 0; i <= 5; ++i) {
    auto r = b.receive(0);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->frame == make_frame(100, i));
  }
  EXPECT_FALSE(b.receive(0).has_value());
}

TEST(Lifecycle, CallFdReplacedWhileRunning) {
  GuestHarness a(opts()), b(opts());
  VirtioNetDevice da(DeviceConfig{.name = "a"}), db(DeviceConfig{.name = "b"});
  a.attach(da);
  b.attach(db);
  b.post_rx(0, 10, 1536);
  UniqueFd other = make_eventfd().value();
  db.set_call_fd(0, other.get());
  b.calls(0);
  ASSERT_TRUE(a.send(0, make_frame(100, 1)));
  forward_burst(da, db);
  EXPECT_EQ(eventfd_drain(other.get()), 1u);
  EXPECT_EQ(b.calls(0), 0u);
  db.set_call_fd(0, -1);  // the driver wants no interrupts at all
  ASSERT_TRUE(a.send(0, make_frame(100, 2)));
  forward_burst(da, db);
  EXPECT_EQ(eventfd_drain(other.get()), 0u);
  EXPECT_EQ(db.queue_stats(0).packets, 2u);
}

TEST(Lifecycle, QueuePairsAreIndependent) {
  GuestHarness a(opts(2)), b(opts(2));
  VirtioNetDevice da(DeviceConfig{.name = "a", .queue_pairs = 2}), db(DeviceConfig{.name = "b", .queue_pairs = 2});
  a.attach(da);
  b.attach(db);
  b.post_rx(1, 10, 1536);
  ASSERT_TRUE(a.send(1, make_frame(300, 1)));
  EXPECT_EQ(forward_burst(da, db, 0), 0);
  EXPECT_EQ(forward_burst(da, db, 1), 1);
  auto r = b.receive(1);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->frame == make_frame(300, 1));
  EXPECT_FALSE(b.receive(0).has_value());
  const auto st = db.stats();
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[1].rx.packets, 1u);
  EXPECT_EQ(st[0].rx.packets, 0u);
  EXPECT_EQ(da.stats()[1].tx.packets, 1u);
}

TEST(Lifecycle, ResetForgetsEverything) {
  GuestHarness a(opts());
  VirtioNetDevice da(DeviceConfig{.name = "a"});
  a.attach(da);
  da.set_mtu(1500);
  EXPECT_EQ(da.mtu(), 1500);
  da.stop_ring(0);
  da.stop_ring(1);
  da.reset();
  EXPECT_EQ(da.num_started_queue_pairs(), 0);
  EXPECT_EQ(da.negotiated_features(), 0u);
  EXPECT_EQ(da.mtu(), 0);
  ASSERT_TRUE(a.send(0, make_frame(100, 1)));
  dataplane::Packet p[1];
  EXPECT_EQ(da.tx_receive(0, p, 1), 0);
}

}  // namespace
}  // namespace vnet::device

namespace vnet::device {
namespace {

TEST(Lifecycle, SendRarpAnnouncesTheGuestMac) {
  testing::GuestHarness a(opts()), b(opts());
  VirtioNetDevice da(DeviceConfig{.name = "a"}), db(DeviceConfig{.name = "b"});
  a.attach(da);
  b.attach(db);
  b.post_rx(0, 4, 1536);
  const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  da.send_rarp(mac);
  EXPECT_EQ(testing::forward_burst(da, db), 1);  // no guest frame needed
  auto r = b.receive(0);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->frame.size(), 60u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(r->frame[i], 0xff);
    EXPECT_EQ(r->frame[6 + i], mac[i]);
    EXPECT_EQ(r->frame[22 + i], mac[i]);
  }
  EXPECT_EQ(r->frame[12], 0x80);
  EXPECT_EQ(r->frame[13], 0x35);
  EXPECT_EQ(r->frame[21], 3);
  EXPECT_EQ(testing::forward_burst(da, db), 0);  // sent once
  // Alongside guest frames in the same burst.
  da.send_rarp(mac);
  ASSERT_TRUE(a.send(0, testing::make_frame(100, 1)));
  EXPECT_EQ(testing::forward_burst(da, db), 2);
  EXPECT_EQ(a.reap_tx(0), 1);
}

}  // namespace
}  // namespace vnet::device
