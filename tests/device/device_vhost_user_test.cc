// The device behind the real vhost-user connection: our Frontend (or our userspace driver)
// talks to vhost_user::Service over a unix socket, the Service drives VirtioNetDevice, and
// frames move between two such ports with every byte checked.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "base/qsbr.h"
#include "device/frame_pattern.h"
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

}  // namespace
}  // namespace vnet::device
