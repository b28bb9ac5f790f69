// Offloads end to end through the real vhost-user connection with our userspace driver on both
// sides: driver A negotiates CSUM + HOST_TSO4/6 + HOST_USO and sends ~64 KiB GSO frames; driver
// B negotiates none of the GUEST_CSUM / GUEST_TSO* / GUEST_USO* bits, so the device behind B must
// cut every frame into MSS-sized segments with finished checksums (rx_path.cc + offload/). Each
// segment B receives is checked field by field, its checksums with the plain RFC 1071 code of
// tests/offload (independent of the offload library), and the payloads are put back together.
//
// device_offload_test.cc covers the same rules with the in-process GuestHarness attached to the
// device; this one adds what only the full stack exercises: the driver's feature negotiation and
// header checks, the header crossing the socket-negotiated rings, B's driver accepting the
// segments (mergeable buffers, all-zero headers), and the counters on B's RX queue.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "device/guest_harness.h"
#include "device/virtio_net_device.h"
#include "driver/virtio_net_driver.h"
#include "offload/offload_test_frames.h"
#include "vhost_user/service.h"

namespace vnet::device {
namespace {

using namespace std::chrono_literals;
using offload::testing::Built;
using offload::testing::FrameSpec;
using testing::forward_burst;
using virtio::bit;
using virtio::has;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t be32(const uint8_t* p) { return (uint32_t{be16(p)} << 16) | be16(p + 2); }

constexpr virtio::Features kGuestOffloads = bit(virtio::kNetFGuestCsum) | bit(virtio::kNetFGuestTso4) |
                                            bit(virtio::kNetFGuestTso6) | bit(virtio::kNetFGuestUso4) |
                                            bit(virtio::kNetFGuestUso6) | bit(virtio::kNetFGuestEcn) |
                                            bit(virtio::kNetFGuestUfo);

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);  // polling a condition with a deadline, not a sync sleep
  }
  return true;
}

// A port: device + endpoint on the service (the endpoint is removed before the device goes).
struct Endpoint {
  vhost_user::Service& svc;
  VirtioNetDevice dev;
  std::string path;
  vhost_user::EndpointId id{};
  Endpoint(vhost_user::Service& s, const std::string& name)
      : svc(s),
        dev(DeviceConfig{.name = name}),
        path("/tmp/vnet-devdrv-offload-" + std::to_string(::getpid()) + "-" + name + ".sock") {
    id = svc.add_endpoint(vhost_user::EndpointConfig{path}, dev).value();
  }
  ~Endpoint() { (void)svc.remove_endpoint(id); }  // an error here only means "already removed"
};

struct Got {
  virtio::NetHdr hdr;
  std::vector<uint8_t> frame;
};

class Collect : public driver::RxSink {
 public:
  void on_frame(const driver::RxFrame& f) override {
    Got g{f.hdr, std::vector<uint8_t>(f.len)};
    f.copy_to(g.frame.data(), g.frame.size());
    frames.push_back(std::move(g));
  }
  std::vector<Got> frames;
};

class DriverOffloadThroughVhostUser : public ::testing::Test {
 protected:
  void SetUp() override {
    svc = vhost_user::Service::start().value();
    static int n = 0;  // unique socket paths per test within this process
    const std::string tag = std::to_string(n++);
    pa = std::make_unique<Endpoint>(*svc, "a" + tag);
    pb = std::make_unique<Endpoint>(*svc, "b" + tag);
    driver::DriverConfig ca;  // the sender: every host offload
    ca.csum = true;
    ca.host_tso = true;
    ca.host_uso = true;
    driver::DriverConfig cb;  // the receiver: today's defaults, no offload at all
    auto a = driver::VirtioNetDriver::connect(pa->path, ca);
    auto b = driver::VirtioNetDriver::connect(pb->path, cb);
    ASSERT_TRUE(a.ok()) << a.error().message();
    ASSERT_TRUE(b.ok()) << b.error().message();
    da = std::move(a).value();
    db = std::move(b).value();
    ASSERT_TRUE(wait_for([&] { return pa->dev.num_started_queue_pairs() == 1 && pb->dev.num_started_queue_pairs() == 1; }, 10s));
  }
  void TearDown() override {
    if (da) {
      EXPECT_TRUE(da->stop().ok());
    }
    if (db) {
      EXPECT_TRUE(db->stop().ok());
    }
    da.reset();
    db.reset();
    pa.reset();
    pb.reset();
    svc.reset();
  }

  // A sends one frame under hdr; the device behind A hands it to the device behind B (on this
  // thread, as a switch would); B's driver takes whatever arrives until `expect` frames are in.
  std::vector<Got> send_through(const virtio::NetHdr& hdr, const std::vector<uint8_t>& frame, size_t expect) {
    EXPECT_EQ(da->tx(0).send(hdr, frame), driver::TxStatus::ok);
    da->tx(0).flush();
    EXPECT_EQ(forward_burst(pa->dev, pb->dev), 1);
    Collect got;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (got.frames.size() < expect && std::chrono::steady_clock::now() < deadline) db->rx(0).poll(64, got);
    db->rx(0).poll(64, got);  // nothing more may come
    EXPECT_TRUE(wait_for([&] { return da->tx(0).reclaim() == 1; }, 5s)) << "A's TX slot completed";
    return std::move(got.frames);
  }

  // The common per-segment checks: a plain frame with all-zero header, the unchanged MACs and
  // IPv4 fields, IP lengths, the IPv4 header checksum and the incrementing id.
  static void check_ip(const Got& g, const Built& orig, const FrameSpec& s, uint32_t i, uint32_t l4_len) {
    const uint8_t* f = g.frame.data();
    EXPECT_EQ(g.hdr.flags, 0) << "software segments need nothing from the receiver";
    EXPECT_EQ(g.hdr.gso_type, virtio::kNetHdrGsoNone);
    EXPECT_TRUE(std::equal(f, f + 12, orig.bytes.begin())) << "MAC addresses";
    if (s.ipv6) {
      EXPECT_EQ(be16(f + orig.l3 + 4), l4_len) << "IPv6 payload length";
    } else {
      EXPECT_EQ(be16(f + orig.l3 + 2), orig.l4 - orig.l3 + l4_len) << "IPv4 total length";
      EXPECT_EQ(be16(f + orig.l3 + 4), static_cast<uint16_t>(s.ip_id + i)) << "IPv4 id";
      EXPECT_EQ(be16(f + orig.l3 + 6), be16(orig.bytes.data() + orig.l3 + 6)) << "IPv4 flags (DF)";
      const std::vector<uint8_t> iph(f + orig.l3, f + orig.l4);
      EXPECT_EQ(offload::testing::rfc1071(iph), 0) << "IPv4 header checksum";
    }
  }

  void check_tcp(const std::vector<Got>& got, const Built& orig, const FrameSpec& s, uint32_t mss) {
    const uint32_t count = (s.payload + mss - 1) / mss;
    ASSERT_EQ(got.size(), count);
    const uint32_t tcp_len = orig.headers - orig.l4;
    std::vector<uint8_t> joined;
    for (uint32_t i = 0; i < count; ++i) {
      SCOPED_TRACE("segment " + std::to_string(i));
      const uint8_t* f = got[i].frame.data();
      const uint32_t plen = std::min(mss, s.payload - i * mss);
      ASSERT_EQ(got[i].frame.size(), orig.headers + plen);
      check_ip(got[i], orig, s, i, tcp_len + plen);
      EXPECT_EQ(be32(f + orig.l4 + 4), s.seq + i * mss) << "sequence number";
      EXPECT_EQ(be32(f + orig.l4 + 8), be32(orig.bytes.data() + orig.l4 + 8)) << "ack number";
      const bool last = i + 1 == count;
      const uint8_t not_last = s.tcp_flags & static_cast<uint8_t>(~(offload::testing::kPsh | offload::testing::kFin));
      EXPECT_EQ(f[orig.l4 + 13], last ? s.tcp_flags : not_last) << "PSH/FIN only on the last segment";
      EXPECT_TRUE(std::equal(f + orig.l4 + 20, f + orig.headers, orig.bytes.begin() + orig.l4 + 20)) << "TCP options";
      EXPECT_EQ(offload::testing::l4_verify(f, orig.l3, orig.l4, tcp_len + plen, s.ipv6, 6), 0) << "TCP checksum";
      joined.insert(joined.end(), f + orig.headers, f + orig.headers + plen);
    }
    EXPECT_TRUE(std::equal(joined.begin(), joined.end(), orig.bytes.begin() + orig.headers, orig.bytes.end()) &&
                joined.size() == s.payload)
        << "the segments' payloads put together are the payload sent";
  }

  void check_udp(const std::vector<Got>& got, const Built& orig, const FrameSpec& s, uint32_t mss) {
    const uint32_t count = (s.payload + mss - 1) / mss;
    ASSERT_EQ(got.size(), count);
    std::vector<uint8_t> joined;
    for (uint32_t i = 0; i < count; ++i) {
      SCOPED_TRACE("datagram " + std::to_string(i));
      const uint8_t* f = got[i].frame.data();
      const uint32_t plen = std::min(mss, s.payload - i * mss);
      ASSERT_EQ(got[i].frame.size(), orig.headers + plen);
      check_ip(got[i], orig, s, i, 8 + plen);
      EXPECT_EQ(be16(f + orig.l4), be16(orig.bytes.data() + orig.l4)) << "source port";
      EXPECT_EQ(be16(f + orig.l4 + 2), be16(orig.bytes.data() + orig.l4 + 2)) << "destination port";
      EXPECT_EQ(be16(f + orig.l4 + 4), 8 + plen) << "UDP length";
      EXPECT_NE(be16(f + orig.l4 + 6), 0) << "a computed UDP checksum is never sent as 0";
      EXPECT_EQ(offload::testing::l4_verify(f, orig.l3, orig.l4, 8 + plen, s.ipv6, 17), 0) << "UDP checksum";
      joined.insert(joined.end(), f + orig.headers, f + orig.headers + plen);
    }
    EXPECT_TRUE(std::equal(joined.begin(), joined.end(), orig.bytes.begin() + orig.headers, orig.bytes.end()) &&
                joined.size() == s.payload)
        << "the datagrams' payloads put together are the payload sent";
  }

  // B's RX counters must show exactly one more software-segmented frame of `segments` segments.
  void check_counters(const QueueStats& before, uint32_t segments) {
    const QueueStats rx = pb->dev.queue_stats(rx_vq(0));
    EXPECT_EQ(rx.sw_gso_frames - before.sw_gso_frames, 1u);
    EXPECT_EQ(rx.sw_segments - before.sw_segments, segments);
    EXPECT_EQ(rx.packets - before.packets, segments);
    EXPECT_EQ(rx.total_drops(), 0u);
    EXPECT_EQ(pa->dev.queue_stats(1).total_drops(), 0u) << "A's header was accepted by the device";
    EXPECT_EQ(db->rx(0).stats().drops.get(), 0u) << "B's driver took every segment";
  }

  std::unique_ptr<vhost_user::Service> svc;
  std::unique_ptr<Endpoint> pa, pb;
  std::unique_ptr<driver::VirtioNetDriver> da, db;
};

TEST_F(DriverOffloadThroughVhostUser, FeaturesAsConfigured) {
  const virtio::Features fa = da->features(), fb = db->features();
  for (unsigned b : {virtio::kNetFCsum, virtio::kNetFHostTso4, virtio::kNetFHostTso6, virtio::kNetFHostUso})
    EXPECT_TRUE(has(fa, b)) << "A asked for and the device offers bit " << b;
  EXPECT_EQ(fa, pa->dev.negotiated_features()) << "what A's driver uses is what the device acked";
  EXPECT_EQ(fb, pb->dev.negotiated_features());
  EXPECT_EQ(fb & kGuestOffloads, 0u) << "B takes no offloaded frame";
  EXPECT_FALSE(has(fb, virtio::kNetFCsum));
  EXPECT_FALSE(has(fb, virtio::kNetFHostTso4));
  EXPECT_FALSE(has(fb, virtio::kNetFHostUso)) << "host_uso defaults to off";
  EXPECT_GE(da->max_tx_frame(), 65535u);
  EXPECT_LT(db->max_tx_frame(), 2000u);
}

TEST_F(DriverOffloadThroughVhostUser, Tcp4GsoSegmentedForReceiverWithoutGuestTso) {
  FrameSpec s;
  s.payload = 64000;
  s.tcp_options = 12;  // timestamps, as Linux sends: 1448 + 12 + 20 + 20 = 1500
  s.tcp_flags = offload::testing::kAck | offload::testing::kPsh | offload::testing::kFin;
  const uint16_t mss = 1448;
  const Built f = offload::testing::build_frame(s);
  const auto hdr = offload::testing::gso_header(f, s, virtio::kNetHdrGsoTcpv4, mss);
  ASSERT_LE(f.bytes.size(), da->max_tx_frame());
  const QueueStats before = pb->dev.queue_stats(rx_vq(0));
  const uint32_t count = (s.payload + mss - 1) / mss;
  const auto got = send_through(hdr, f.bytes, count);
  check_tcp(got, f, s, mss);
  check_counters(before, count);
}

TEST_F(DriverOffloadThroughVhostUser, Tcp6GsoSegmentedForReceiverWithoutGuestTso) {
  FrameSpec s;
  s.ipv6 = true;
  s.payload = 63000;
  s.tcp_options = 12;
  const uint16_t mss = 1428;  // Linux's MSS for IPv6 with timestamps at MTU 1500
  const Built f = offload::testing::build_frame(s);
  const auto hdr = offload::testing::gso_header(f, s, virtio::kNetHdrGsoTcpv6, mss);
  ASSERT_LE(f.bytes.size(), da->max_tx_frame());
  const QueueStats before = pb->dev.queue_stats(rx_vq(0));
  const uint32_t count = (s.payload + mss - 1) / mss;
  const auto got = send_through(hdr, f.bytes, count);
  check_tcp(got, f, s, mss);
  check_counters(before, count);
}

TEST_F(DriverOffloadThroughVhostUser, UsoSegmentedForReceiverWithoutGuestUso) {
  ASSERT_TRUE(has(da->features(), virtio::kNetFHostUso)) << "the device offers HOST_USO by default";
  for (bool ipv6 : {false, true}) {
    SCOPED_TRACE(ipv6 ? "UDPv6" : "UDPv4");
    FrameSpec s;
    s.udp = true;
    s.ipv6 = ipv6;
    s.payload = 64000;
    const uint16_t mss = ipv6 ? 1452 : 1472;  // the largest datagrams MTU 1500 allows
    const Built f = offload::testing::build_frame(s);
    const auto hdr = offload::testing::gso_header(f, s, virtio::kNetHdrGsoUdpL4, mss);
    const QueueStats before = pb->dev.queue_stats(rx_vq(0));
    const uint32_t count = (s.payload + mss - 1) / mss;
    const auto got = send_through(hdr, f.bytes, count);
    check_udp(got, f, s, mss);
    check_counters(before, count);
    if (HasFatalFailure()) return;
  }
}

// Checksum offload alone: a NEEDS_CSUM datagram gets its checksum finished by the device.
TEST_F(DriverOffloadThroughVhostUser, NeedsCsumCompletedForReceiverWithoutGuestCsum) {
  FrameSpec s;
  s.udp = true;
  s.payload = 1000;
  const Built f = offload::testing::build_frame(s);
  const QueueStats before = pb->dev.queue_stats(rx_vq(0));
  const auto got = send_through(offload::testing::csum_header(f, s), f.bytes, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].hdr.flags, 0);
  ASSERT_EQ(got[0].frame.size(), f.bytes.size());
  EXPECT_EQ(offload::testing::l4_verify(got[0].frame.data(), f.l3, f.l4, 8 + s.payload, false, 17), 0);
  EXPECT_TRUE(std::equal(got[0].frame.begin() + f.headers, got[0].frame.end(), f.bytes.begin() + f.headers));
  const QueueStats rx = pb->dev.queue_stats(rx_vq(0));
  EXPECT_EQ(rx.sw_checksums - before.sw_checksums, 1u);
  EXPECT_EQ(rx.sw_gso_frames - before.sw_gso_frames, 0u);
}

// Driver side of the option: without HOST_USO negotiated a UDP_L4 header is refused before it
// reaches the ring; with it (A) the same header is accepted (the tests above).
TEST_F(DriverOffloadThroughVhostUser, UsoHeaderRefusedWithoutHostUso) {
  FrameSpec s;
  s.udp = true;
  s.payload = 4000;
  const Built f = offload::testing::build_frame(s);
  driver::DriverConfig c;
  c.csum = true;
  c.host_tso = true;  // TSO but not USO
  {
    Endpoint pc(*svc, "c");
    auto dc = driver::VirtioNetDriver::connect(pc.path, c);
    ASSERT_TRUE(dc.ok()) << dc.error().message();
    EXPECT_TRUE(has((*dc)->features(), virtio::kNetFHostTso4));
    EXPECT_FALSE(has((*dc)->features(), virtio::kNetFHostUso));
    EXPECT_EQ((*dc)->tx(0).send(offload::testing::gso_header(f, s, virtio::kNetHdrGsoUdpL4, 1400), f.bytes),
              driver::TxStatus::bad_header);
    EXPECT_TRUE((*dc)->stop().ok());
  }
}

}  // namespace
}  // namespace vnet::device
