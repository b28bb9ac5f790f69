// Destination queue choice for a vhost-user port whose guest uses fewer channels than it has
// queue pairs (Linux with queues=2 and `ethtool -L eth0 combined 1`, or one vCPU): pair 1 is
// started but disabled. Two poll threads transmit to the port (thread t picks queue t % 2);
// nothing may be dropped as `disabled`, everything arrives on pair 0, and a channel count
// changed at run time is followed.
#include <gtest/gtest.h>

#include <set>

#include "dataplane/datapath.h"
#include "dataplane/fake_port.h"
#include "dataplane/test_forwarders.h"
#include "dataplane/wait_until.h"
#include "device/guest_harness.h"
#include "ports/vhost_user_port.h"

namespace vnet {
namespace {

using device::DropReason;
using device::rx_vq;
using device::tx_vq;
using testing::FakePort;
using testing::make_frame;
using testing::wait_until;

constexpr uint64_t kGuestMac = 0x020000000002, kSrcMac = 0x020000000001;
constexpr uint32_t kPerQueue = 100;  // per source queue and phase: fits the 256-entry RX rings

struct Fixture {
  device::testing::GuestHarness guest{[] {
    device::testing::GuestOptions o;
    o.queue_pairs = 2;
    o.qsize = 256;
    o.slot_bytes = 2048;
    return o;
  }()};
  ports::VhostUserPort dst{device::DeviceConfig{.name = "guest", .queue_pairs = 2}};
  FakePort src{"src", 2};
  testing::PairForwarder fwd{&src, &dst};
  std::unique_ptr<dataplane::Datapath> dp;

  device::VirtioNetDevice& dev() { return dst.device(); }
  void set_pair_enabled(uint16_t qp, bool on) {
    dev().enable_ring(rx_vq(qp), on);
    dev().enable_ring(tx_vq(qp), on);
  }
  uint64_t delivered(uint16_t qp) const { return dst.device().queue_stats(rx_vq(qp)).packets; }
  uint64_t dropped_disabled(uint16_t qp) const {
    return dst.device().queue_stats(rx_vq(qp)).drop(DropReason::disabled);
  }
  // Sends kPerQueue frames on each source queue, sequence numbers tagged with the queue.
  void inject(uint32_t phase) {
    for (uint32_t i = 0; i < kPerQueue; ++i)
      for (uint16_t q = 0; q < 2; ++q) src.inject(q, make_frame(kGuestMac, kSrcMac, phase << 16 | q << 8 | i));
  }
  // Takes what the guest received on qp into `got[qp]` and gives the buffers back.
  void collect(uint16_t qp) {
    std::string err;
    int n = 0;
    while (auto r = guest.receive(qp, &err)) {
      EXPECT_TRUE(err.empty()) << err;
      got[qp].insert(testing::frame_seq(r->frame));
      ++n;
    }
    if (n > 0) guest.post_rx(qp, n, 2048);
  }
  // Awaits `total` frames received by the guest over both pairs.
  bool await_received(size_t total) {
    return wait_until([&] {
      collect(0);
      collect(1);
      return got[0].size() + got[1].size() >= total;
    });
  }
  std::multiset<uint32_t> got[2];
};

TEST(VhostUserDestination, DisabledPairGetsNothingAndNothingIsDropped) {
  Fixture f;
  f.guest.attach(f.dev());
  f.set_pair_enabled(1, false);  // what QEMU sends when the guest uses one channel
  ASSERT_EQ(f.dev().num_started_queue_pairs(), 2);
  ASSERT_EQ(f.dev().num_usable_queue_pairs(), 1);
  ASSERT_EQ(f.guest.post_rx(0, 256, 2048), 256);
  ASSERT_EQ(f.guest.post_rx(1, 256, 2048), 256);

  dataplane::DatapathOptions o;
  o.threads = 2;
  auto dp = dataplane::Datapath::create(f.fwd, o);
  ASSERT_TRUE(dp.ok()) << dp.error().message();
  f.dp = std::move(dp.value());
  ASSERT_TRUE(f.dp->add_port(&f.src).ok());
  ASSERT_TRUE(f.dp->add_port(&f.dst).ok());
  // The test means something only if both threads forward (thread 1 transmits on queue 1).
  const auto threads = f.dp->threads();
  ASSERT_EQ(threads.size(), 2u);
  for (const auto& t : threads) {
    bool owns_src = false;
    for (const auto& q : t.queues) owns_src |= q.port == "src";
    ASSERT_TRUE(owns_src) << "thread " << t.index << " polls no source queue";
  }
  // The disabled pair's TX ring is still polled (its chains must be drained).
  size_t dst_queues = 0;
  for (const auto& t : threads)
    for (const auto& q : t.queues) dst_queues += q.port == "guest";
  EXPECT_EQ(dst_queues, 2u);

  // Phase 0: pair 1 disabled: everything on pair 0.
  f.inject(0);
  ASSERT_TRUE(f.await_received(2 * kPerQueue)) << f.got[0].size() << " " << f.got[1].size();
  EXPECT_EQ(f.got[1].size(), 0u);
  EXPECT_EQ(f.delivered(1), 0u);
  EXPECT_EQ(f.dropped_disabled(0), 0u);
  EXPECT_EQ(f.dropped_disabled(1), 0u);
  EXPECT_EQ(f.dev().queue_stats(rx_vq(0)).total_drops(), 0u);
  for (const auto& t : f.dp->threads()) EXPECT_GT(t.counters.rx_packets, 0u) << "thread " << t.index;
  ASSERT_EQ(f.got[0].size(), 2 * kPerQueue);
  for (uint32_t q = 0; q < 2; ++q)
    for (uint32_t i = 0; i < kPerQueue; ++i) EXPECT_EQ(f.got[0].count(q << 8 | i), 1u) << q << " " << i;

  // Phase 1: the guest enables its second channel: one thread's queue is pair 1 again.
  f.set_pair_enabled(1, true);
  ASSERT_EQ(f.dev().num_usable_queue_pairs(), 2);
  f.inject(1);
  ASSERT_TRUE(f.await_received(4 * kPerQueue)) << f.got[0].size() << " " << f.got[1].size();
  EXPECT_EQ(f.got[1].size(), kPerQueue) << "the re-enabled pair carries one thread's frames";

  // Phase 2: and disables it again at run time: pair 0 only, again.
  f.set_pair_enabled(1, false);
  f.inject(2);
  ASSERT_TRUE(f.await_received(6 * kPerQueue)) << f.got[0].size() << " " << f.got[1].size();
  EXPECT_EQ(f.got[0].size(), 5 * kPerQueue);
  EXPECT_EQ(f.got[1].size(), kPerQueue);
  EXPECT_EQ(f.dropped_disabled(0), 0u);
  EXPECT_EQ(f.dropped_disabled(1), 0u);
  EXPECT_EQ(f.dev().queue_stats(rx_vq(0)).total_drops(), 0u);
  EXPECT_EQ(f.dev().queue_stats(rx_vq(1)).total_drops(), 0u);
  EXPECT_EQ(f.src.violations(), 0u);
  EXPECT_EQ(f.fwd.unreachable(), 0u);
  f.dp.reset();  // threads stop before the guest's memory goes away
}

}  // namespace
}  // namespace vnet
