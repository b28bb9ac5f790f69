// Driver and device on different threads: an echo device reflects every TX frame into RX while
// the driver sends with flow control (ring full -> wait_space) and receives in interrupt mode
// (poll, re-arm, wait on the call eventfd). Lost notifications show up as a hang, caught by
// the deadline; reordering or corruption by the content check. Also run under TSan.
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <thread>

#include "driver/driver_rig.h"

namespace vnet::driver::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct EchoParams {
  bool event_idx, mrg, indirect;
  size_t frame_len;
};

class EchoTest : public ::testing::TestWithParam<EchoParams> {};

TEST_P(EchoTest, EveryFrameComesBackInOrder) {
  const EchoParams p = GetParam();
  DriverConfig cfg;
  cfg.queue_size = 64;
  cfg.event_idx = p.event_idx;
  cfg.mrg_rxbuf = p.mrg;
  cfg.indirect_desc = p.indirect;
  cfg.mrg_buf_size = 1024;
  cfg.mtu = 9000;
  Rig r(cfg);
  constexpr int kFrames = 3000;
  const auto deadline = Clock::now() + std::chrono::seconds(60);

  std::atomic<bool> stop{false};
  std::thread device([&] {
    std::deque<std::vector<uint8_t>> pending;
    const int kick = r.h.vrings.at(1).kick.get();
    while (!stop.load(std::memory_order_relaxed) && Clock::now() < deadline) {
      auto sent = r.h.take_tx(0, 32);
      for (auto& f : sent) pending.push_back(std::move(f.bytes));
      size_t delivered = 0;
      while (!pending.empty() && r.h.deliver(0, pending.front()) > 0) {
        pending.pop_front();
        ++delivered;
      }
      if (sent.empty() && delivered == 0) {
        pollfd pf{kick, POLLIN, 0};
        if (::poll(&pf, 1, 1) > 0) eventfd_drain(kick);
      }
    }
  });

  struct Check : RxSink {
    int next = 0;
    size_t len = 0;
    int bad = 0;
    void on_frame(const RxFrame& f) override {
      std::vector<uint8_t> b(f.len);
      f.copy_to(b.data(), b.size());
      if (b != make_frame(len, static_cast<uint8_t>(next))) ++bad;
      ++next;
    }
  } check;
  check.len = p.frame_len;

  int sent = 0;
  auto& tx = r.drv->tx(0);
  auto& rx = r.drv->rx(0);
  while (check.next < kFrames && Clock::now() < deadline) {
    TxStatus st = TxStatus::ok;
    while (sent < kFrames && (st = tx.send({}, make_frame(p.frame_len, static_cast<uint8_t>(sent)))) == TxStatus::ok) ++sent;
    if (st != TxStatus::ok && st != TxStatus::ring_full) {
      ADD_FAILURE() << "send: " << to_string(st);
      break;
    }
    tx.flush();
    const int got = rx.poll(32, check, PollMode::interrupt);
    if (got < 32 && check.next < kFrames) {
      if (sent < kFrames && tx.stopped()) tx.wait_space(5);
      else rx.wait(20);
    }
  }
  stop = true;
  device.join();
  EXPECT_EQ(check.next, kFrames);
  EXPECT_EQ(check.bad, 0);
  EXPECT_EQ(rx.stats().drops.get(), 0u);
  EXPECT_EQ(rx.stats().packets.get(), static_cast<uint64_t>(kFrames));
  EXPECT_EQ(tx.stats().packets.get(), static_cast<uint64_t>(kFrames));
  EXPECT_FALSE(rx.broken());
  EXPECT_FALSE(tx.broken());
}

INSTANTIATE_TEST_SUITE_P(Modes, EchoTest,
                         ::testing::Values(EchoParams{true, true, true, 60}, EchoParams{false, true, false, 60},
                                           EchoParams{true, true, true, 3000}, EchoParams{true, false, false, 1514},
                                           EchoParams{false, false, true, 1514}));

TEST(DriverTxThreaded, WaitSpaceWakesWhenTheDeviceCompletes) {
  for (bool event_idx : {true, false}) {
    DriverConfig cfg = Rig::small_config();
    cfg.event_idx = event_idx;
    Rig r(cfg);
    auto& tx = r.drv->tx(0);
    while (tx.send({}, make_frame(60)) == TxStatus::ok) {
    }
    tx.flush();
    std::thread device([&] {
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      size_t n = 0;
      while (n < 16 && Clock::now() < deadline) {
        n += r.h.take_tx(0).size();
        std::this_thread::yield();
      }
    });
    const auto t0 = Clock::now();
    bool woke = false;
    while (!woke && Clock::now() - t0 < std::chrono::seconds(10)) woke = tx.wait_space(5000);
    device.join();
    EXPECT_TRUE(woke) << "event_idx=" << event_idx;
    tx.reclaim();
    EXPECT_EQ(tx.in_flight(), 0);
    EXPECT_EQ(tx.send({}, make_frame(60)), TxStatus::ok);
  }
}

}  // namespace
}  // namespace vnet::driver::testing
