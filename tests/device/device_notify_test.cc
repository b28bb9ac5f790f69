// Notifications: calls only when the driver asked (EVENT_IDX used_event or NO_INTERRUPT), one
// decision per burst; kicks drained and counted when the poll thread re-arms.
#include <gtest/gtest.h>

#include "device/frame_pattern.h"
#include "device/guest_harness.h"

namespace vnet::device {
namespace {

using testing::forward_burst;
using testing::GuestHarness;
using testing::GuestOptions;
using testing::make_frame;

GuestOptions opts(bool event_idx) {
  GuestOptions o;
  o.event_idx = event_idx;
  o.qsize = 64;
  return o;
}

class Notify : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    a.attach(da);
    b.attach(db);
    b.post_rx(0, 60, 1536);
    // Warm-up: the first used entries are always signalled (EVENT_IDX has no previous value to
    // compare with), so start measuring after one exchange.
    send_and_forward(1);
    EXPECT_TRUE(b.receive(0).has_value());
    EXPECT_EQ(a.reap_tx(0), 1);
    b.post_rx(0, 1, 1536);
    a.calls(1);
    b.calls(0);
    calls_a0 = da.queue_stats(1).calls;
    calls_b0 = db.queue_stats(0).calls;
  }
  uint64_t calls_a0 = 0, calls_b0 = 0;
  void send_and_forward(int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(a.send(0, make_frame(100, i)));
    while (forward_burst(da, db) != 0) {
    }
  }
  GuestHarness a{opts(GetParam())}, b{opts(GetParam())};
  VirtioNetDevice da{DeviceConfig{.name = "a"}}, db{DeviceConfig{.name = "b"}};
};

TEST_P(Notify, OneCallPerBurstWhenInterruptsAreWanted) {
  b.queue(0).drv->enable_cb_prepare();
  a.queue(1).drv->enable_cb_prepare();
  send_and_forward(20);
  EXPECT_EQ(b.calls(0), 1u);  // one burst, one call
  EXPECT_EQ(a.calls(1), 1u);  // TX completions, one call
  EXPECT_EQ(db.queue_stats(0).calls - calls_b0, 1u);
  EXPECT_EQ(da.queue_stats(1).calls - calls_a0, 1u);
}

TEST_P(Notify, NoCallWhenTheDriverSuppressesInterrupts) {
  b.queue(0).drv->disable_cb();
  a.queue(1).drv->disable_cb();
  send_and_forward(20);
  // With EVENT_IDX our driver leaves used_event where it was, so the device may signal once
  // more when it passes it; after that, silence. With flags: silence at once.
  if (!GetParam()) {
    EXPECT_EQ(b.calls(0), 0u);
    EXPECT_EQ(a.calls(1), 0u);
  }
  b.calls(0);
  a.calls(1);
  const uint64_t c0 = db.queue_stats(0).calls;
  send_and_forward(20);
  EXPECT_EQ(b.calls(0), 0u);
  EXPECT_EQ(a.calls(1), 0u);
  EXPECT_EQ(db.queue_stats(0).calls, c0);
  // Re-enabling (NAPI complete) then more traffic gives a call again.
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(b.receive(0).has_value());
  b.queue(0).drv->enable_cb_prepare();
  send_and_forward(1);
  EXPECT_EQ(b.calls(0), 1u);
}

TEST_P(Notify, KicksAreSuppressedWhilePollingAndCountedWhenRearming) {
  auto& txq = a.queue(1);
  EXPECT_FALSE(da.tx_enable_notify(0));  // the poll thread goes to sleep
  const uint64_t before = txq.kicks_sent;
  ASSERT_TRUE(a.send(0, make_frame(100, 1)));
  EXPECT_EQ(txq.kicks_sent, before + 1);  // notifications on at start: the driver kicks
  da.tx_disable_notify(0);
  ASSERT_TRUE(a.send(0, make_frame(100, 2)));
  ASSERT_TRUE(a.send(0, make_frame(100, 3)));
  EXPECT_EQ(txq.kicks_sent, before + 1);  // NO_NOTIFY / avail_event honoured
  while (forward_burst(da, db) != 0) {
  }
  // Nothing pending: enable_notify says "sleep" and drains the kick eventfd.
  EXPECT_FALSE(da.tx_enable_notify(0));
  EXPECT_EQ(da.queue_stats(1).kicks, txq.kicks_sent);  // every kick so far, warm-up included
  // The next frame is kicked again (the poll thread would wake up).
  const uint64_t k = txq.kicks_sent;
  ASSERT_TRUE(a.send(0, make_frame(100, 4)));
  EXPECT_EQ(txq.kicks_sent, k + 1);
  // Work arrived after re-arming: enable_notify reports it (the lost-kick race).
  da.tx_disable_notify(0);
  ASSERT_TRUE(a.send(0, make_frame(100, 5)));
  EXPECT_TRUE(da.tx_enable_notify(0));
  EXPECT_EQ(da.tx_kick_fd(0), txq.kick.get());
}

INSTANTIATE_TEST_SUITE_P(EventIdx, Notify, ::testing::Bool(),
                         [](const auto& i) { return i.param ? std::string("EventIdx") : std::string("Flags"); });

}  // namespace
}  // namespace vnet::device
