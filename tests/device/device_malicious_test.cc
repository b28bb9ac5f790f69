// A malicious guest writes broken rings: its queue reports the error (counter, last error, one
// log line) and stops; other queues and other ports keep forwarding; nothing crashes or hangs.
#include <gtest/gtest.h>

#include <functional>

#include "device/frame_pattern.h"
#include "device/guest_harness.h"

namespace vnet::device {
namespace {

using testing::forward_burst;
using testing::GuestHarness;
using testing::GuestOptions;
using testing::make_frame;
using virtio::RingError;
using virtio::VringDesc;

constexpr uint16_t kQ = 64;

GuestOptions opts() {
  GuestOptions o;
  o.qsize = kQ;
  o.slot_bytes = 4096;
  return o;
}

// Raw ring writes that bypass the well-behaved driver.
struct RawRing {
  GuestHarness::Queue& q;
  VringDesc& d(uint16_t i) { return reinterpret_cast<VringDesc*>(q.ring + q.layout.desc_off)[i]; }
  uint16_t& avail_idx() { return *reinterpret_cast<uint16_t*>(q.ring + q.layout.avail_off + 2); }
  void make_avail(uint16_t head) {
    reinterpret_cast<uint16_t*>(q.ring + q.layout.avail_off + 4)[avail_idx() % kQ] = head;
    ++avail_idx();
  }
};

struct Breakage {
  const char* name;
  RingError expected;
  int good_before;  // well-formed chains before the breakage that are still processed
  std::function<void(RawRing&, uint64_t scratch_gpa, uint8_t* scratch)> write;
};

const Breakage kBreakages[] = {
    {"HeadOutOfRange", RingError::head_out_of_range, 2, [](RawRing& r, uint64_t, uint8_t*) { r.make_avail(kQ + 5); }},
    {"Loop", RingError::chain_loop, 2,
     [](RawRing& r, uint64_t g, uint8_t*) {
       r.d(60) = {g, 100, virtio::kDescFNext, 61};
       r.d(61) = {g, 100, virtio::kDescFNext, 60};
       r.make_avail(60);
     }},
    {"NextOutOfRange", RingError::next_out_of_range, 2,
     [](RawRing& r, uint64_t g, uint8_t*) {
       r.d(60) = {g, 100, virtio::kDescFNext, 1000};
       r.make_avail(60);
     }},
    {"Unmapped", RingError::address_not_mapped, 2,
     [](RawRing& r, uint64_t, uint8_t*) {
       r.d(60) = {uint64_t{1} << 45, 100, 0, 0};
       r.make_avail(60);
     }},
    {"AddressWraps", RingError::address_not_mapped, 2,
     [](RawRing& r, uint64_t, uint8_t*) {
       r.d(60) = {~uint64_t{0} - 10, 100, 0, 0};
       r.make_avail(60);
     }},
    {"AvailIdxJump", RingError::avail_idx_jump, 0,
     [](RawRing& r, uint64_t, uint8_t*) { r.avail_idx() = static_cast<uint16_t>(r.avail_idx() + kQ + 1); }},
    {"NestedIndirect", RingError::nested_indirect, 2,
     [](RawRing& r, uint64_t g, uint8_t* p) {
       auto* t = reinterpret_cast<VringDesc*>(p);
       t[0] = {g, 32, virtio::kDescFIndirect, 0};
       r.d(60) = {g, 32, virtio::kDescFIndirect, 0};
       r.make_avail(60);
     }},
    {"IndirectBadLength", RingError::indirect_bad_length, 2,
     [](RawRing& r, uint64_t g, uint8_t*) {
       r.d(60) = {g, 17, virtio::kDescFIndirect, 0};
       r.make_avail(60);
     }},
    {"HugeChain", RingError::chain_too_long, 2,
     [](RawRing& r, uint64_t g, uint8_t*) {
       r.d(60) = {g, 0xffffff00u, 0, 0};
       r.make_avail(60);
     }},
};

class Malicious : public ::testing::TestWithParam<Breakage> {
 protected:
  void SetUp() override {
    evil.attach(d_evil);
    good.attach(d_good);
    sink.attach(d_sink);
    sink.post_rx(0, 60, 1536);
    evil.post_rx(0, 8, 1536);
  }
  uint8_t* scratch(GuestHarness& g, uint16_t vq) { return g.slot_ptr(g.queue(vq), kQ - 1); }
  uint64_t scratch_gpa(GuestHarness& g, uint16_t vq) { return g.slot_gpa(g.queue(vq), kQ - 1); }
  void expect_good_port_flows(int n) {
    for (int i = 0; i < n; ++i) {
      const auto f = make_frame(200 + i, i);
      ASSERT_TRUE(good.send(0, f));
      ASSERT_EQ(forward_burst(d_good, d_sink), 1);
      auto r = sink.receive(0);
      ASSERT_TRUE(r.has_value());
      ASSERT_TRUE(r->frame == f);
      ASSERT_EQ(good.reap_tx(0), 1);
    }
    sink.post_rx(0, n, 1536);
  }

  GuestHarness evil{opts()}, good{opts()}, sink{opts()};
  VirtioNetDevice d_evil{DeviceConfig{.name = "evil"}}, d_good{DeviceConfig{.name = "good"}},
      d_sink{DeviceConfig{.name = "sink"}};
};

TEST_P(Malicious, BrokenTxRingStopsOnlyThatQueue) {
  // Two good chains, then the broken one.
  ASSERT_TRUE(evil.send(0, make_frame(100, 1)));
  ASSERT_TRUE(evil.send(0, make_frame(100, 2)));
  RawRing raw{evil.queue(1)};
  GetParam().write(raw, scratch_gpa(evil, 1), scratch(evil, 1));

  const int before = GetParam().good_before;
  EXPECT_EQ(forward_burst(d_evil, d_sink), before);  // chains before the bad one are forwarded
  EXPECT_EQ(evil.reap_tx(0), before);                // and completed
  for (int i = 0; i < before; ++i) {
    auto r = sink.receive(0);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->frame == make_frame(100, i + 1));
  }
  for (int i = 0; i < 5; ++i) EXPECT_EQ(forward_burst(d_evil, d_sink), 0);

  const QueueStats s = d_evil.queue_stats(1);
  EXPECT_EQ(s.ring_errors, 1u);  // reported once, however often it is polled
  EXPECT_EQ(s.last_ring_error, GetParam().expected) << virtio::to_string(s.last_ring_error);
  EXPECT_EQ(eventfd_drain(evil.queue(1).err.get()), 1u) << "the front-end's error eventfd is told once";
  EXPECT_EQ(eventfd_drain(evil.queue(0).err.get()), 0u);
  EXPECT_TRUE(d_evil.has_ring_error());
  EXPECT_FALSE(d_evil.tx_enable_notify(0));  // a broken queue lets its poll thread sleep

  expect_good_port_flows(10);
  EXPECT_FALSE(d_good.has_ring_error());
  EXPECT_FALSE(d_sink.has_ring_error());

  // The evil guest's RX queue is a different ring and still receives.
  ASSERT_TRUE(good.send(0, make_frame(300, 3)));
  ASSERT_EQ(forward_burst(d_good, d_evil), 1);
  auto r = evil.receive(0);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->frame == make_frame(300, 3));

  // Restarting the ring (what a front-end reset does) clears the error.
  const uint16_t last = d_evil.stop_ring(1);
  EXPECT_EQ(last, before);
  auto setup = evil.setup(1);
  setup.last_avail_idx = last;
  d_evil.start_ring(setup);
  EXPECT_EQ(d_evil.queue_stats(1).last_ring_error, RingError::none);
  EXPECT_FALSE(d_evil.has_ring_error());
  EXPECT_EQ(d_evil.queue_stats(1).ring_errors, 1u);  // history is kept
}

TEST_P(Malicious, BrokenRxRingStopsOnlyThatQueue) {
  // Break the sink's RX ring after its good buffers: the first frames are delivered, then the
  // broken entry is reached.
  GuestHarness victim_rx{opts()};
  VirtioNetDevice d_victim{DeviceConfig{.name = "victim"}};
  victim_rx.attach(d_victim);
  victim_rx.post_rx(0, 2, 1536);
  RawRing raw{victim_rx.queue(0)};
  GetParam().write(raw, scratch_gpa(victim_rx, 0), scratch(victim_rx, 0));

  for (int i = 0; i < 4; ++i) ASSERT_TRUE(good.send(0, make_frame(100, i)));
  EXPECT_EQ(forward_burst(d_good, d_victim), 4);
  EXPECT_EQ(good.reap_tx(0), 4);  // the sender is not held up
  const int before = GetParam().good_before;
  for (int i = 0; i < before; ++i) EXPECT_TRUE(victim_rx.receive(0).has_value());
  EXPECT_FALSE(victim_rx.receive(0).has_value());
  const QueueStats s = d_victim.queue_stats(0);
  EXPECT_EQ(s.packets, static_cast<uint64_t>(before));
  EXPECT_EQ(s.ring_errors, 1u);
  EXPECT_EQ(eventfd_drain(victim_rx.queue(0).err.get()), 1u) << "the front-end's error eventfd is told once";
  EXPECT_EQ(s.total_drops(), static_cast<uint64_t>(4 - before));
  EXPECT_EQ(s.drop(DropReason::ring_broken), static_cast<uint64_t>(4 - before)) << "not counted as a guest short of buffers";
  EXPECT_EQ(s.last_ring_error, GetParam().expected) << virtio::to_string(s.last_ring_error);
  expect_good_port_flows(5);
}

INSTANTIATE_TEST_SUITE_P(Breakages, Malicious, ::testing::ValuesIn(kBreakages),
                         [](const auto& i) { return std::string(i.param.name); });

TEST(MaliciousRx, TinyRxBuffersAreNotOverrun) {
  // RX buffers too small for the header are returned with used len 0 (the guest drops them and
  // refills, as Linux virtio_net does) instead of wedging the queue; small buffers are never
  // written past their end (ASan would see it: the harness's mapping is exact).
  GuestOptions o = opts();
  GuestHarness g(o), rx(o);
  VirtioNetDevice dg(DeviceConfig{.name = "g"}), drx(DeviceConfig{.name = "rx"});
  g.attach(dg);
  rx.attach(drx);
  for (uint32_t len : {1u, 11u, 12u, 13u, 100u}) rx.post_rx(0, 1, len);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(g.send(0, make_frame(1000, i)));
  EXPECT_EQ(forward_burst(dg, drx), 5);
  // 1 and 11 cannot hold the header: consumed as bad chains. 12 + 13 + 100 bytes are too few
  // for 12 + 1000: every frame is dropped and those three buffers are given back.
  const QueueStats s = drx.queue_stats(0);
  EXPECT_EQ(s.packets, 0u);
  EXPECT_EQ(s.drop(DropReason::bad_chain), 2u);
  EXPECT_EQ(s.drop(DropReason::no_rx_buffer), 5u);
  std::string err;
  auto r = rx.receive(0, &err);  // the 1-byte buffer, used with len 0
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(err, "");
  // A small frame fits the three remaining buffers.
  ASSERT_TRUE(g.send(0, make_frame(100, 9)));
  EXPECT_EQ(forward_burst(dg, drx), 1);
  EXPECT_EQ(drx.queue_stats(0).packets, 1u);
}

}  // namespace
}  // namespace vnet::device
