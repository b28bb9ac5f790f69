// Integration against DPDK testpmd's net_vhost back-end (label "integration"): frames sent by
// the driver arrive at testpmd with the right count and bytes (rxonly), frames testpmd
// generates arrive at the driver intact in mergeable, multi-buffer and big-buffer modes
// (txonly), and vnet-perf tx -> testpmd io -> vnet-perf rx / pingpong <-> fwd carry every frame
// with sequence and payload intact.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>

#include "driver/driver_rig.h"
#include "driver/testpmd.h"

namespace vnet::driver::testing {
namespace {

using namespace std::chrono_literals;

#define REQUIRE_TESTPMD(t) ASSERT_TRUE((t).error().empty()) << (t).error()

std::string perf_bin() {
  const char* d = std::getenv("VNET_BIN_DIR");
  return std::string(d ? d : "build/asan/bin") + "/vnet-perf";
}

nlohmann::json last_json_line(const std::string& out) {
  size_t end = out.find_last_not_of('\n');
  if (end == std::string::npos) return {};
  size_t start = out.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  try {
    return nlohmann::json::parse(out.substr(start, end - start + 1));
  } catch (...) {
    return {};
  }
}

TEST(Testpmd, DriverFramesCountedByRxonly) {
  Testpmd tp(1, "rxonly");
  REQUIRE_TESTPMD(tp);
  const size_t sizes[] = {60, 64, 128, 511, 1000, 1514, 1518};
  uint64_t frames = 0, bytes = 0;
  for (bool indirect : {true, false}) {
    DriverConfig cfg;
    cfg.indirect_desc = indirect;
    auto d = VirtioNetDriver::connect(tp.sock(0), cfg);
    ASSERT_TRUE(d) << d.error().message();
    auto& tx = d.value()->tx(0);
    ASSERT_EQ(d.value()->indirect(), indirect);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (int i = 0; i < 5000 && std::chrono::steady_clock::now() < deadline;) {
      const size_t len = sizes[i % std::size(sizes)];
      const TxStatus st = tx.send({}, make_frame(len, static_cast<uint8_t>(i)));
      if (st == TxStatus::ok) {
        ++i, ++frames, bytes += len;
        continue;
      }
      ASSERT_EQ(st, TxStatus::ring_full);
      tx.wait_space(100);
    }
    tx.flush();
    while (tx.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) tx.wait_space(100);
    EXPECT_EQ(tx.in_flight(), 0) << "testpmd completes every frame";
    EXPECT_EQ(tx.stats().packets.get(), 5000u);
    EXPECT_EQ(tx.stats().ring_errors.get(), 0u);
    ASSERT_TRUE(d.value()->stop().ok());
  }
  const PortStats s = tp.wait_rx(0, frames, 15s);
  EXPECT_EQ(s.rx_packets, frames) << tp.log().substr(0, 4000);
  EXPECT_EQ(s.rx_bytes, bytes);
}

TEST(Testpmd, ListenModeAcceptsTestpmdAsClient) {
  Testpmd tp(1, "rxonly", {}, /*client=*/true);
  REQUIRE_TESTPMD(tp);
  DriverConfig cfg;
  cfg.timeout = 30s;  // testpmd's EAL start-up comes first
  auto d = VirtioNetDriver::listen(tp.sock(0), cfg);
  ASSERT_TRUE(d) << d.error().message() << "\n" << tp.log();
  auto& tx = d.value()->tx(0);
  int sent = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (sent < 1000 && std::chrono::steady_clock::now() < deadline) {
    if (tx.send({}, make_frame(128, static_cast<uint8_t>(sent))) == TxStatus::ok) ++sent;
    else tx.wait_space(100);
  }
  tx.flush();
  EXPECT_EQ(sent, 1000);
  const PortStats s = tp.wait_rx(0, 1000, 15s);
  EXPECT_EQ(s.rx_packets, 1000u);
  EXPECT_EQ(s.rx_bytes, 128000u);
  ASSERT_TRUE(d.value()->stop().ok());
}

TEST(Testpmd, TxonlyFramesReachDriverIntact) {
  constexpr size_t kLen = 1000;
  Testpmd tp(1, "txonly", {"--txpkts=" + std::to_string(kLen)});
  REQUIRE_TESTPMD(tp);
  struct Mode {
    bool mrg;
    uint32_t buf;
    uint16_t expect_segs;
  };
  // 1000-byte frames (+12 header): one 2 KiB mergeable buffer, two 512-byte ones, one big buffer.
  for (Mode m : {Mode{true, 2048, 1}, Mode{true, 512, 2}, Mode{false, 0, 1}}) {
    DriverConfig cfg;
    cfg.mrg_rxbuf = m.mrg;
    if (m.buf) cfg.mrg_buf_size = m.buf;
    auto d = VirtioNetDriver::connect(tp.sock(0), cfg);
    ASSERT_TRUE(d) << d.error().message();
    ASSERT_EQ(d.value()->mergeable(), m.mrg);
    auto& rx = d.value()->rx(0);
    struct Check : RxSink {
      uint64_t n = 0, bad = 0, segs_seen = 0;
      uint16_t expect_segs = 1;
      void on_frame(const RxFrame& f) override {
        ++n;
        uint8_t b[2048];
        const size_t k = f.copy_to(b, sizeof(b));
        // testpmd txonly: Ethernet / IPv4 / UDP, IP total length = frame - 14.
        const bool ok = f.len == kLen && k == kLen && b[12] == 0x08 && b[13] == 0x00 && b[14] == 0x45 &&
                        b[23] == 17 && (b[16] << 8 | b[17]) == kLen - 14;
        if (!ok) ++bad;
        if (f.nsegs == expect_segs) ++segs_seen;
      }
    } c;
    c.expect_segs = m.expect_segs;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    uint64_t woken = 0;
    while (c.n < 20000 && std::chrono::steady_clock::now() < deadline) {
      if (rx.poll(64, c, PollMode::interrupt) < 64) woken += rx.wait(50);
    }
    EXPECT_GE(c.n, 20000u) << "mrg=" << m.mrg << " buf=" << m.buf;
    EXPECT_EQ(c.bad, 0u);
    EXPECT_EQ(c.segs_seen, c.n) << "frames spanning " << m.expect_segs << " buffers";
    EXPECT_EQ(rx.stats().drops.get(), 0u);
    EXPECT_EQ(rx.stats().ring_errors.get(), 0u);
    // Whether we ever sleep depends on who is faster (testpmd may keep the ring full); every
    // wake-up that came from the call eventfd is counted. The wake-up itself is tested
    // deterministically in threaded_test.cc.
    EXPECT_EQ(rx.stats().interrupts.get(), woken);
    ASSERT_TRUE(d.value()->stop().ok());
  }
}

// vnet-perf tx -> testpmd port 0 -> io forwarding -> port 1 -> vnet-perf rx.
TEST(Testpmd, PerfTxThroughIoForwardingToPerfRx) {
  Testpmd tp(2, "io");
  REQUIRE_TESTPMD(tp);
  // The receiver's ring holds every frame: testpmd io frees what it cannot enqueue, so a
  // receiver descheduled for a while on a loaded machine must not turn into loss.
  constexpr int kFrames = 4000;
  for (const char* size : {"64", "1518"}) {
    const size_t ready_before = tp.ready_count(1);
    ChildProcess rx({perf_bin(), "--connect", tp.sock(1), "--mode", "rx", "--count", std::to_string(kFrames),
                     "--duration", "60", "--json", "--quiet", "--interrupt", "--queue-size", "4096"},
                    tp.dir() + "/rx.log");
    ASSERT_TRUE(tp.wait_ready(1, ready_before, 20s)) << tp.log();
    ChildProcess tx({perf_bin(), "--connect", tp.sock(0), "--mode", "tx", "--count", std::to_string(kFrames), "--rate",
                     "20000", "--size", size, "--flows", "16", "--duration", "60", "--json", "--quiet", "--interrupt",
                     "--queue-size", "1024"},
                    tp.dir() + "/tx.log");
    EXPECT_EQ(tx.wait(90s), 0) << tx.log();
    EXPECT_EQ(rx.wait(60s), 0) << rx.log();
    const auto tj = last_json_line(tx.log());
    const auto rj = last_json_line(rx.log());
    ASSERT_TRUE(tj.is_object()) << tx.log();
    ASSERT_TRUE(rj.is_object()) << rx.log();
    EXPECT_EQ(tj["tx_packets"], kFrames);
    EXPECT_EQ(rj["rx_packets"], kFrames) << "size " << size << "\n" << rx.log();
    EXPECT_EQ(rj["rx_bytes"], uint64_t{kFrames} * std::stoul(size));
    EXPECT_EQ(rj["lost"], 0);
    EXPECT_EQ(rj["reordered"], 0);
    EXPECT_EQ(rj["corrupt"], 0);
    EXPECT_EQ(rj["foreign"], 0);
    EXPECT_EQ(rj["errors"], 0);
  }
}

// Two queue pairs: frames sent on both TX queues all reach testpmd (rxq=2).
TEST(Testpmd, TwoQueuePairs) {
  Testpmd tp(1, "rxonly", {"--rxq=2", "--txq=2"}, false, /*queues=*/2);
  REQUIRE_TESTPMD(tp);
  DriverConfig cfg;
  cfg.queue_pairs = 2;
  auto d = VirtioNetDriver::connect(tp.sock(0), cfg);
  ASSERT_TRUE(d) << d.error().message();
  ASSERT_EQ(d.value()->queue_pairs(), 2) << d.value()->describe();
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  for (uint16_t q = 0; q < 2; ++q) {
    auto& tx = d.value()->tx(q);
    int sent = 0;
    while (sent < 1000 && std::chrono::steady_clock::now() < deadline) {
      if (tx.send({}, make_frame(100, static_cast<uint8_t>(sent))) == TxStatus::ok) ++sent;
      else tx.wait_space(100);
    }
    tx.flush();
    EXPECT_EQ(sent, 1000) << "queue " << q;
  }
  const PortStats s = tp.wait_rx(0, 2000, 15s);
  EXPECT_EQ(s.rx_packets, 2000u);
  ASSERT_TRUE(d.value()->stop().ok());
}

// vnet-perf bidir on one port with testpmd io forwarding it back: it receives what it sent.
TEST(Testpmd, PerfBidirLoopback) {
  Testpmd tp(1, "io");
  REQUIRE_TESTPMD(tp);
  ChildProcess p({perf_bin(), "--connect", tp.sock(0), "--mode", "bidir", "--count", "10000", "--rate", "20000",
                  "--duration", "60", "--json", "--quiet", "--interrupt", "--queue-size", "1024"},
                 tp.dir() + "/bidir.log");
  EXPECT_EQ(p.wait(90s), 0) << p.log();
  const auto j = last_json_line(p.log());
  ASSERT_TRUE(j.is_object()) << p.log();
  EXPECT_EQ(j["tx_packets"], 10000);
  EXPECT_EQ(j["rx_packets"], 10000) << p.log();
  EXPECT_EQ(j["lost"], 0);
  EXPECT_EQ(j["corrupt"], 0);
  EXPECT_EQ(j["errors"], 0);
}

// vnet-perf pingpong on port 0 <-> testpmd io <-> vnet-perf fwd on port 1.
TEST(Testpmd, PingpongThroughPerfFwd) {
  Testpmd tp(2, "io");
  REQUIRE_TESTPMD(tp);
  ChildProcess fwd({perf_bin(), "--connect", tp.sock(1), "--mode", "fwd", "--duration", "60", "--json", "--quiet",
                    "--interrupt"},
                   tp.dir() + "/fwd.log");
  ASSERT_TRUE(tp.wait_ready(1, 0, 20s)) << tp.log();
  ChildProcess ping({perf_bin(), "--connect", tp.sock(0), "--mode", "pingpong", "--count", "2000", "--duration", "60",
                     "--ping-timeout", "5", "--json", "--quiet", "--interrupt"},
                    tp.dir() + "/ping.log");
  EXPECT_EQ(ping.wait(90s), 0) << ping.log();
  fwd.stop();
  const auto pj = last_json_line(ping.log());
  ASSERT_TRUE(pj.is_object()) << ping.log();
  EXPECT_EQ(pj["pings"], 2000);
  EXPECT_EQ(pj["replies"], 2000) << ping.log();
  EXPECT_EQ(pj["lost"], 0);
  EXPECT_GT(pj["lat_p50_us"].get<double>(), 0.0);
  EXPECT_GE(pj["lat_p99_us"].get<double>(), pj["lat_p50_us"].get<double>());
  EXPECT_GE(pj["lat_max_us"].get<double>(), pj["lat_p999_us"].get<double>());
  const auto fj = last_json_line(fwd.log());
  ASSERT_TRUE(fj.is_object()) << fwd.log();
  EXPECT_EQ(fj["rx_packets"], 2000);
  EXPECT_EQ(fj["tx_packets"], 2000);
}

}  // namespace
}  // namespace vnet::driver::testing
