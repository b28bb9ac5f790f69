// The device behind the real vhost-user connection: our Frontend (or our userspace driver)
// talks to vhost_user::Service over a unix socket, the Service drives VirtioNetDevice, and
// frames move between two such ports with every byte checked.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "base/qsbr.h"
#include "device/frame_pattern.h"
#include "device/feature_modes.h"
#include "device/guest_harness.h"
#include "driver/virtio_net_driver.h"
#include "vhost_user/frontend.h"
#include "vhost_user/service.h"

namespace vnet::device {
namespace {

using namespace std::chrono_literals;
using testing::forward_burst;
using testing::GuestHarness;
using testing::GuestOptions;
using testing::make_frame;

std::string socket_path(const char* tag) {
  return "/tmp/vnet-device-test-" + std::to_string(::getpid()) + "-" + tag + ".sock";
}

// A port: device + endpoint on the service. The endpoint goes before the device does (the
// service thread may still be stopping rings of a front-end that just disconnected).
struct Endpoint {
  vhost_user::Service& svc;
  VirtioNetDevice dev;
  std::string path;
  vhost_user::EndpointId id{};
  Endpoint(vhost_user::Service& s, const char* name) : svc(s), dev(DeviceConfig{.name = name}), path(socket_path(name)) {
    id = svc.add_endpoint(vhost_user::EndpointConfig{path}, dev).value();
  }
  ~Endpoint() { (void)svc.remove_endpoint(id); }  // an error here only means "already removed"
};

// Brings a GuestHarness's rings up through a Frontend, as QEMU would.
vhost_user::BringUpConfig bring_up(GuestHarness& g) {
  vhost_user::BringUpConfig c;
  c.driver_features = g.features() | virtio::bit(virtio::kNetFMtu);
  c.regions = {RegionSpec{g.mem_fd(), 0, g.mem_size(), 0, reinterpret_cast<uint64_t>(g.mem())}};
  c.mtu = 1500;
  for (uint16_t vq = 0; vq < g.num_vqs(); ++vq) {
    const auto s = g.setup(vq);
    vhost_user::VringAddresses a;
    a.desc = reinterpret_cast<uint64_t>(s.desc);
    a.avail = reinterpret_cast<uint64_t>(s.avail);
    a.used = reinterpret_cast<uint64_t>(s.used);
    c.rings.push_back(vhost_user::FrontendRing{vq, s.size, a, 0, s.kick_fd, s.call_fd, true});
  }
  return c;
}

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);  // polling a condition with a deadline, not a sync sleep
  }
  return true;
}

class ThroughVhostUser : public ::testing::Test {
 protected:
  void SetUp() override { svc = vhost_user::Service::start().value(); }
  void TearDown() override { svc.reset(); }
  std::unique_ptr<vhost_user::Service> svc;
};

TEST_F(ThroughVhostUser, FrontendHarnessToHarness) {
  Endpoint pa(*svc, "fa"), pb(*svc, "fb");
  GuestOptions o;
  o.qsize = 128;
  GuestHarness a(o), b(o);
  auto fa = vhost_user::Frontend::connect(pa.path, 30s);
  auto fb = vhost_user::Frontend::connect(pb.path, 30s);
  ASSERT_TRUE(fa.ok()) << fa.error().message();
  ASSERT_TRUE(fb.ok()) << fb.error().message();
  auto na = fa->bring_up(bring_up(a));
  auto nb = fb->bring_up(bring_up(b));
  ASSERT_TRUE(na.ok()) << na.error().message();
  ASSERT_TRUE(nb.ok()) << nb.error().message();
  EXPECT_TRUE(virtio::has(na->features, virtio::kNetFMrgRxbuf));
  EXPECT_TRUE(virtio::has(na->features, virtio::kFRingEventIdx));
  ASSERT_TRUE(wait_for([&] { return pa.dev.num_started_queue_pairs() == 1 && pb.dev.num_started_queue_pairs() == 1; }, 30s));
  EXPECT_EQ(pa.dev.mtu(), 1500);

  b.post_rx(0, 100, 1536);
  for (uint32_t len : {14u, 60u, 1514u, 9000u, 65535u}) {
    const auto f = make_frame(len, len);
    ASSERT_TRUE(a.send(0, f));
    ASSERT_EQ(forward_burst(pa.dev, pb.dev), 1);
    auto r = b.receive(0);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->frame == f) << len;
    EXPECT_EQ(a.reap_tx(0), 1);
    b.post_rx(0, r->buffers, 1536);
  }

  // GET_VRING_BASE stops the ring through the device: last_avail_idx comes back.
  const uint16_t idx[] = {1};
  auto bases = fa->stop_rings(idx);
  ASSERT_TRUE(bases.ok()) << bases.error().message();
  EXPECT_EQ(bases.value()[0], 5);
  ASSERT_TRUE(a.send(0, make_frame(100, 1)));
  EXPECT_EQ(forward_burst(pa.dev, pb.dev), 0);  // stopped ring: untouched

  // Disconnect: the service resets the device.
  fa->close();
  ASSERT_TRUE(wait_for([&] { return pa.dev.num_started_queue_pairs() == 0; }, 30s));
}

// Our userspace driver on both sides, a poll thread (QSBR reader) forwarding between the two
// devices, frames of many sizes checked byte for byte.
class Collect : public driver::RxSink {
 public:
  void on_frame(const driver::RxFrame& f) override {
    std::vector<uint8_t> v(f.len);
    f.copy_to(v.data(), v.size());
    frames.push_back(std::move(v));
  }
  std::vector<std::vector<uint8_t>> frames;
};

TEST_F(ThroughVhostUser, DriverToDriverWithAPollThread) {
  for (bool mrg : {true, false}) {
    SCOPED_TRACE(mrg ? "mergeable" : "big buffers");
    Endpoint pa(*svc, mrg ? "da1" : "da0"), pb(*svc, mrg ? "db1" : "db0");
    driver::DriverConfig cfg;
    cfg.mrg_rxbuf = mrg;
    cfg.mtu = 9000;
    auto da = driver::VirtioNetDriver::connect(pa.path, cfg);
    auto db = driver::VirtioNetDriver::connect(pb.path, cfg);
    ASSERT_TRUE(da.ok()) << da.error().message();
    ASSERT_TRUE(db.ok()) << db.error().message();
    ASSERT_TRUE(wait_for([&] { return pa.dev.num_started_queue_pairs() == 1 && pb.dev.num_started_queue_pairs() == 1; }, 30s));
    EXPECT_EQ((*da)->mergeable(), mrg);

    std::atomic<bool> stop{false};
    std::thread poller([&] {
      Qsbr::Reader reader(Qsbr::global());
      while (!stop.load(std::memory_order_relaxed)) {
        forward_burst(pa.dev, pb.dev);
        reader.quiescent();
      }
    });

    std::vector<std::vector<uint8_t>> sent;
    Collect got;
    const uint32_t max = (*da)->max_tx_frame();
    for (uint32_t len = 14; len <= max; len = len < 200 ? len + 1 : len + 97) sent.push_back(make_frame(len, len));
    size_t next = 0;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (got.frames.size() < sent.size() && std::chrono::steady_clock::now() < deadline) {
      // At most 16 frames in flight: B's ring (256 buffers) always has room, so nothing is
      // dropped for lack of RX buffers.
      for (int k = 0; k < 16 && next < sent.size() && next - got.frames.size() < 16; ++k) {
        const auto st = (*da)->tx(0).send(virtio::NetHdr{}, sent[next]);
        if (st != driver::TxStatus::ok) break;
        ++next;
      }
      (*da)->tx(0).flush();
      (*da)->tx(0).reclaim();
      (*db)->rx(0).poll(64, got);
    }
    stop = true;
    poller.join();
    ASSERT_EQ(got.frames.size(), sent.size());
    for (size_t i = 0; i < sent.size(); ++i) ASSERT_TRUE(got.frames[i] == sent[i]) << "frame " << i;
    EXPECT_EQ(pb.dev.queue_stats(0).total_drops(), 0u);
    EXPECT_EQ(pa.dev.queue_stats(1).packets, sent.size());
    ASSERT_TRUE((*da)->stop().ok());
    ASSERT_TRUE((*db)->stop().ok());
    ASSERT_TRUE(svc->remove_endpoint(pa.id).ok());
    ASSERT_TRUE(svc->remove_endpoint(pb.id).ok());
  }
}

// The datapath matrix of device_datapath_test.cc, but with the rings brought up over a real
// vhost-user connection (Frontend -> Service -> BackendConnection -> VirtioNetDevice): the
// negotiated features, the memory table (the back-end maps the harness's memfd itself and
// translates the ring addresses) and the ring state all come from the protocol, not from
// attach(). Every size 14..4200, then every 251 bytes up to 65535, every byte checked.
using Mode = testing::FeatureMode;

class VhostUserDatapath : public ::testing::TestWithParam<Mode> {
 protected:
  static GuestOptions opts() { return testing::feature_mode_options(GetParam()); }
  // Unique per mode: the socket path and the device name derive from it.
  static std::string tag(char side) {
    const Mode m = GetParam();
    return std::string(1, side) + "m" + std::to_string(m.mrg * 4 + m.event_idx * 2 + m.indirect);
  }
  void SetUp() override { svc = vhost_user::Service::start().value(); }
  void TearDown() override {
    fa.reset();
    fb.reset();
    pa.reset();
    pb.reset();
    svc.reset();
  }

  // Mergeable guests post about one MTU per buffer, as Linux does. Others post 16 KiB
  // buffers: frames up to 16 KiB - header arrive whole, larger ones cannot fit one buffer
  // and must be dropped as too_big (the buffer is left to the guest), never truncated.
  uint32_t rx_buf_bytes() const { return GetParam().mrg ? 1536 : 16384; }
  uint32_t max_rx_frame() const { return GetParam().mrg ? 65535 : 16384 - b.hdr_len(); }
  void refill_b() {
    int want = 64 - static_cast<int>(b.queue(0).drv->size() - b.queue(0).drv->num_free());
    if (want > 0) b.post_rx(0, want, rx_buf_bytes());
  }

  // Sends one frame from A through the device behind A's connection to the device behind
  // B's, and checks what B's driver gets: the same bytes, or a counted too_big drop.
  void roundtrip(uint32_t len) {
    SCOPED_TRACE("frame length " + std::to_string(len));
    const auto frame = make_frame(len, len);
    refill_b();
    const uint64_t too_big_before = pb->dev.queue_stats(0).drop(DropReason::too_big);
    ASSERT_TRUE(a.send(0, frame));
    ASSERT_EQ(forward_burst(pa->dev, pb->dev), 1);
    EXPECT_EQ(a.reap_tx(0), 1);  // the TX chain was completed after the copy (or the drop)
    tx_bytes += len;
    std::string err;
    auto r = b.receive(0, &err);
    if (len > max_rx_frame()) {
      ASSERT_FALSE(r.has_value()) << "a frame larger than the RX buffer was delivered";
      ASSERT_EQ(pb->dev.queue_stats(0).drop(DropReason::too_big), too_big_before + 1);
      ++dropped;
      return;
    }
    ASSERT_TRUE(r.has_value()) << "nothing received";
    ASSERT_EQ(err, "");
    ASSERT_EQ(r->frame.size(), frame.size());
    ASSERT_TRUE(r->frame == frame) << "payload differs";
    if (GetParam().mrg) {
      EXPECT_EQ(r->buffers, (b.hdr_len() + len + 1535) / 1536);
    }
    EXPECT_FALSE(b.receive(0).has_value());
    ++delivered;
    rx_bytes += len;
  }

  std::unique_ptr<vhost_user::Service> svc;
  std::optional<Endpoint> pa, pb;
  GuestHarness a{opts()}, b{opts()};
  std::optional<vhost_user::Frontend> fa, fb;
  uint64_t delivered = 0, dropped = 0, tx_bytes = 0, rx_bytes = 0;
};

TEST_P(VhostUserDatapath, EveryFrameSizeThroughTheConnection) {
  const Mode m = GetParam();
  const std::string ta = tag('a'), tb = tag('b');
  pa.emplace(*svc, ta.c_str());
  pb.emplace(*svc, tb.c_str());
  auto ca = vhost_user::Frontend::connect(pa->path, 30s);
  auto cb = vhost_user::Frontend::connect(pb->path, 30s);
  ASSERT_TRUE(ca.ok()) << ca.error().message();
  ASSERT_TRUE(cb.ok()) << cb.error().message();
  fa.emplace(std::move(ca.value()));
  fb.emplace(std::move(cb.value()));
  auto na = fa->bring_up(bring_up(a));
  auto nb = fb->bring_up(bring_up(b));
  ASSERT_TRUE(na.ok()) << na.error().message();
  ASSERT_TRUE(nb.ok()) << nb.error().message();
  // The back-end acked exactly what the harness drives its rings with.
  for (const auto* n : {&na.value(), &nb.value()}) {
    EXPECT_EQ(n->features & a.features(), a.features());
    EXPECT_EQ(virtio::has(n->features, virtio::kNetFMrgRxbuf), m.mrg);
    EXPECT_EQ(virtio::has(n->features, virtio::kFRingEventIdx), m.event_idx);
    EXPECT_EQ(virtio::has(n->features, virtio::kFRingIndirectDesc), m.indirect);
  }
  ASSERT_TRUE(wait_for([&] { return pa->dev.num_started_queue_pairs() == 1 && pb->dev.num_started_queue_pairs() == 1; }, 30s));

  uint64_t sent = 0;
  for (uint32_t len = 14; len <= 4200; ++len, ++sent) {
    roundtrip(len);
    if (HasFatalFailure()) return;
  }
  // Above: every 251 bytes, plus the edges: the largest frame a non-mergeable buffer holds
  // and one byte more, and the largest frame the device accepts (65535).
  std::vector<uint32_t> large;
  for (uint32_t len = 4201; len < 65535; len += 251) large.push_back(len);
  const uint32_t edge = 16384 - b.hdr_len();
  large.insert(large.end(), {edge, edge + 1, 65535});
  for (uint32_t len : large) {
    roundtrip(len);
    if (HasFatalFailure()) return;
    ++sent;
  }
  // One byte beyond the device's maximum: dropped on TX as too_long, its chain still completed.
  ASSERT_TRUE(a.send(0, make_frame(65536, 1)));
  EXPECT_EQ(forward_burst(pa->dev, pb->dev), 0);
  EXPECT_EQ(a.reap_tx(0), 1);

  EXPECT_EQ(delivered + dropped, sent);
  EXPECT_EQ(dropped, m.mrg ? 0u : static_cast<uint64_t>(std::count_if(large.begin(), large.end(), [&](uint32_t l) {
    return l > edge;
  })));
  const auto tx = pa->dev.queue_stats(1);
  const auto rx = pb->dev.queue_stats(0);
  EXPECT_EQ(tx.packets, sent);
  EXPECT_EQ(tx.bytes, tx_bytes);
  EXPECT_EQ(tx.drop(DropReason::too_long), 1u);
  EXPECT_EQ(tx.total_drops(), 1u);
  EXPECT_EQ(rx.packets, delivered);
  EXPECT_EQ(rx.bytes, rx_bytes);
  EXPECT_EQ(rx.drop(DropReason::too_big), dropped);
  EXPECT_EQ(rx.total_drops(), dropped);
  EXPECT_EQ(tx.ring_errors + rx.ring_errors, 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, VhostUserDatapath,
                         testing::all_feature_modes(), testing::feature_mode_name);

}  // namespace
}  // namespace vnet::device
