// Offloads through the device engine, guest to guest: a source that negotiated CSUM/HOST_TSO
// sends NEEDS_CSUM and GSO frames; a destination that negotiated the matching GUEST_* bits gets
// them unchanged (one frame, header as sent), one that did not gets the work done in software
// (segments / completed checksums, checked here independently of the offload library with the
// plain RFC 1071 code of tests/offload). Inconsistent headers are dropped and counted.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "device/virtio_net_device.h"
#include "device/guest_harness.h"
#include "offload/checksum.h"
#include "offload/offload_test_frames.h"

namespace vnet::device {
namespace {

using offload::testing::Built;
using offload::testing::FrameSpec;
using testing::forward_burst;
using testing::GuestHarness;
using testing::GuestOptions;

constexpr virtio::Features kHostOffloads = virtio::bit(virtio::kNetFCsum) | virtio::bit(virtio::kNetFHostTso4) |
                                           virtio::bit(virtio::kNetFHostTso6) | virtio::bit(virtio::kNetFHostUso);
constexpr virtio::Features kGuestOffloads = virtio::bit(virtio::kNetFGuestCsum) |
                                            virtio::bit(virtio::kNetFGuestTso4) |
                                            virtio::bit(virtio::kNetFGuestTso6);

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t be32(const uint8_t* p) { return (uint32_t{be16(p)} << 16) | be16(p + 2); }

GuestOptions with(virtio::Features extra, uint16_t qsize = 256) {
  GuestOptions o;
  o.extra_features = extra;
  o.qsize = qsize;
  return o;
}

// A source guest with offloads, a destination with the given GUEST_* features.
struct Pair {
  explicit Pair(virtio::Features dest_features, virtio::Features src_features = kHostOffloads)
      : a(with(src_features)), b(with(dest_features)), da(DeviceConfig{.name = "a"}), db(DeviceConfig{.name = "b"}) {
    a.attach(da);
    b.attach(db);
  }
  std::vector<GuestHarness::Received> drain() {
    std::vector<GuestHarness::Received> out;
    std::string err;
    while (auto r = b.receive(0, &err)) {
      EXPECT_TRUE(err.empty()) << err;
      out.push_back(std::move(*r));
    }
    return out;
  }
  GuestHarness a, b;
  VirtioNetDevice da, db;
};

// Every segment of a TCP GSO frame as the destination received it (with `tag` extra bytes
// after the MACs, for a pushed VLAN tag), checked field by field against the original.
void check_tcp_segments(const std::vector<GuestHarness::Received>& got, const Built& orig, const FrameSpec& s,
                        uint32_t mss, uint32_t tag = 0) {
  const uint32_t count = (s.payload + mss - 1) / mss;
  ASSERT_EQ(got.size(), count);
  const uint32_t l3 = orig.l3 + tag, l4 = orig.l4 + tag, headers = orig.headers + tag;
  const uint32_t ip_len = orig.l4 - orig.l3, tcp_len = orig.headers - orig.l4;
  for (uint32_t i = 0; i < count; ++i) {
    SCOPED_TRACE("segment " + std::to_string(i));
    const auto& r = got[i];
    const uint8_t* f = r.frame.data();
    const uint32_t plen = std::min(mss, s.payload - i * mss);
    ASSERT_EQ(r.frame.size(), headers + plen);
    // Software segments need nothing from the receiver: an all-zero header.
    EXPECT_EQ(r.hdr.flags, 0);
    EXPECT_EQ(r.hdr.gso_type, virtio::kNetHdrGsoNone);
    if (s.ipv6) {
      EXPECT_EQ(be16(f + l3 + 4), tcp_len + plen);
    } else {
      EXPECT_EQ(be16(f + l3 + 2), ip_len + tcp_len + plen);
      EXPECT_EQ(be16(f + l3 + 4), static_cast<uint16_t>(s.ip_id + i));
      std::vector<uint8_t> iph(f + l3, f + l4);
      EXPECT_EQ(offload::testing::rfc1071(iph), 0) << "IPv4 header checksum";
    }
    EXPECT_EQ(be32(f + l4 + 4), s.seq + i * mss);
    const bool last = i + 1 == count;
    EXPECT_EQ(f[l4 + 13], last ? s.tcp_flags : (s.tcp_flags & ~(offload::testing::kPsh | offload::testing::kFin)));
    EXPECT_EQ(offload::testing::l4_verify(f, l3, l4, tcp_len + plen, s.ipv6, 6), 0) << "TCP checksum";
    EXPECT_TRUE(std::equal(f + headers, f + headers + plen, orig.bytes.begin() + orig.headers + i * mss))
        << "payload bytes";
  }
}

class TsoTest : public ::testing::TestWithParam<bool> {};  // param: IPv6

TEST_P(TsoTest, PassesThroughToDestinationWithGuestTso) {
  Pair p(kGuestOffloads);
  FrameSpec s;
  s.ipv6 = GetParam();
  s.payload = 60000;
  const Built f = offload::testing::build_frame(s);
  const auto hdr = offload::testing::gso_header(f, s, s.ipv6 ? virtio::kNetHdrGsoTcpv6 : virtio::kNetHdrGsoTcpv4, 1448);
  p.b.post_rx(0, 64, 4096);
  ASSERT_TRUE(p.a.send(0, f.bytes, {}, hdr));
  ASSERT_EQ(forward_burst(p.da, p.db), 1);
  const auto got = p.drain();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].frame, f.bytes);
  EXPECT_GT(got[0].buffers, 1) << "a 64 KiB segment spans mergeable buffers";
  EXPECT_EQ(got[0].hdr.flags, hdr.flags);
  EXPECT_EQ(got[0].hdr.gso_type, hdr.gso_type);
  EXPECT_EQ(got[0].hdr.gso_size, hdr.gso_size);
  EXPECT_EQ(got[0].hdr.hdr_len, hdr.hdr_len);
  EXPECT_EQ(got[0].hdr.csum_start, hdr.csum_start);
  EXPECT_EQ(got[0].hdr.csum_offset, hdr.csum_offset);
  const QueueStats rx = p.db.queue_stats(rx_vq(0));
  EXPECT_EQ(rx.sw_gso_frames, 0u);
  EXPECT_EQ(rx.packets, 1u);
}

TEST_P(TsoTest, SegmentedForDestinationWithoutGuestTso) {
  Pair p(0);
  FrameSpec s;
  s.ipv6 = GetParam();
  s.payload = 60000;
  s.tcp_options = 12;
  const uint32_t mss = 1448;
  const Built f = offload::testing::build_frame(s);
  const auto hdr = offload::testing::gso_header(f, s, s.ipv6 ? virtio::kNetHdrGsoTcpv6 : virtio::kNetHdrGsoTcpv4, mss);
  p.b.post_rx(0, 128, 2048);
  ASSERT_TRUE(p.a.send(0, f.bytes, {}, hdr));
  ASSERT_EQ(forward_burst(p.da, p.db), 1);
  check_tcp_segments(p.drain(), f, s, mss);
  const QueueStats rx = p.db.queue_stats(rx_vq(0));
  EXPECT_EQ(rx.sw_gso_frames, 1u);
  EXPECT_EQ(rx.sw_segments, (s.payload + mss - 1) / mss);
  EXPECT_EQ(rx.total_drops(), 0u);
}

// Only GUEST_TSO4: IPv4 passes, IPv6 is segmented (per destination, per frame).
TEST_P(TsoTest, DecidedPerGsoType) {
  Pair p(virtio::bit(virtio::kNetFGuestCsum) | virtio::bit(virtio::kNetFGuestTso4));
  FrameSpec s;
  s.ipv6 = GetParam();
  s.payload = 5000;
  const Built f = offload::testing::build_frame(s);
  const auto hdr = offload::testing::gso_header(f, s, s.ipv6 ? virtio::kNetHdrGsoTcpv6 : virtio::kNetHdrGsoTcpv4, 1000);
  p.b.post_rx(0, 16, 8192);
  ASSERT_TRUE(p.a.send(0, f.bytes, {}, hdr));
  ASSERT_EQ(forward_burst(p.da, p.db), 1);
  const auto got = p.drain();
  if (s.ipv6) {
    check_tcp_segments(got, f, s, 1000);
  } else {
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].frame, f.bytes);
    EXPECT_EQ(got[0].hdr.gso_type, virtio::kNetHdrGsoTcpv4);
  }
}

INSTANTIATE_TEST_SUITE_P(Ip, TsoTest, ::testing::Bool(),
                         [](const auto& i) { return std::string(i.param ? "ipv6" : "ipv4"); });

TEST(DeviceOffload, ChecksumCompletedForDestinationWithoutGuestCsum) {
  for (bool udp : {false, true}) {
    for (uint32_t rx_buf : {2048u, 63u}) {  // 63: the checksum field straddles two buffers (TCP)
      SCOPED_TRACE(std::string(udp ? "udp" : "tcp") + " rx buffers " + std::to_string(rx_buf));
      Pair p(0);
      FrameSpec s;
      s.udp = udp;
      s.payload = 301;  // odd: the sum ends on a half word
      const Built f = offload::testing::build_frame(s);
      p.b.post_rx(0, 64, rx_buf);
      ASSERT_TRUE(p.a.send(0, f.bytes, {}, offload::testing::csum_header(f, s)));
      ASSERT_EQ(forward_burst(p.da, p.db), 1);
      const auto got = p.drain();
      ASSERT_EQ(got.size(), 1u);
      const auto& r = got[0];
      EXPECT_EQ(r.hdr.flags, 0);
      ASSERT_EQ(r.frame.size(), f.bytes.size());
      EXPECT_EQ(offload::testing::l4_verify(r.frame.data(), f.l3, f.l4, f.headers - f.l4 + s.payload, false,
                                            udp ? 17 : 6),
                0);
      // Nothing but the 2 checksum bytes changed.
      const uint32_t field = f.l4 + (udp ? 6 : 16);
      for (uint32_t i = 0; i < f.bytes.size(); ++i) {
        if (i == field || i == field + 1) continue;
        ASSERT_EQ(r.frame[i], f.bytes[i]) << i;
      }
      EXPECT_EQ(p.db.queue_stats(rx_vq(0)).sw_checksums, 1u);
    }
  }
}

TEST(DeviceOffload, ChecksumPassesThroughWithGuestCsum) {
  Pair p(virtio::bit(virtio::kNetFGuestCsum));
  FrameSpec s;
  s.payload = 500;
  const Built f = offload::testing::build_frame(s);
  const auto hdr = offload::testing::csum_header(f, s);
  p.b.post_rx(0, 8, 2048);
  ASSERT_TRUE(p.a.send(0, f.bytes, {}, hdr));
  ASSERT_EQ(forward_burst(p.da, p.db), 1);
  const auto got = p.drain();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].frame, f.bytes);
  EXPECT_EQ(got[0].hdr.flags, virtio::kNetHdrFNeedsCsum);
  EXPECT_EQ(got[0].hdr.csum_start, hdr.csum_start);
  EXPECT_EQ(got[0].hdr.csum_offset, hdr.csum_offset);
  EXPECT_EQ(p.db.queue_stats(rx_vq(0)).sw_checksums, 0u);
}

// A pushed tag moves the L4 header by 4 bytes: a header passed through must follow
// (csum_start, hdr_len), and software work must land at the moved positions.
TEST(DeviceOffload, VlanPushKeepsChecksumRight) {
  constexpr uint16_t kVid = 42;
  FrameSpec s;
  s.payload = 777;
  const Built f = offload::testing::build_frame(s);
  const auto hdr = offload::testing::csum_header(f, s);
  const uint32_t l4_len = f.headers - f.l4 + s.payload;
  {
    SCOPED_TRACE("pass-through");
    Pair p(virtio::bit(virtio::kNetFGuestCsum));
    p.b.post_rx(0, 8, 2048);
    ASSERT_TRUE(p.a.send(0, f.bytes, {}, hdr));
    ASSERT_EQ(forward_burst(p.da, p.db, 0, dataplane::VlanEdit::push, kVid), 1);
    auto got = p.drain();
    ASSERT_EQ(got.size(), 1u);
    auto& r = got[0];
    ASSERT_EQ(r.frame.size(), f.bytes.size() + 4);
    EXPECT_EQ(be16(&r.frame[12]), 0x8100);
    EXPECT_EQ(be16(&r.frame[14]) & 0x0fff, kVid);
    EXPECT_EQ(r.hdr.csum_start, hdr.csum_start + 4);
    EXPECT_EQ(r.hdr.csum_offset, hdr.csum_offset);
    // Completing it the way the receiving kernel would gives a right checksum.
    ASSERT_TRUE(offload::complete_checksum(r.hdr, r.frame.data(), static_cast<uint32_t>(r.frame.size())));
    EXPECT_EQ(offload::testing::l4_verify(r.frame.data(), f.l3 + 4, f.l4 + 4, l4_len, false, 6), 0);
  }
  {
    SCOPED_TRACE("software completion");
    Pair p(0);
    p.b.post_rx(0, 8, 2048);
    ASSERT_TRUE(p.a.send(0, f.bytes, {}, hdr));
    ASSERT_EQ(forward_burst(p.da, p.db, 0, dataplane::VlanEdit::push, kVid), 1);
    auto got = p.drain();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].hdr.flags, 0);
    EXPECT_EQ(be16(&got[0].frame[12]), 0x8100);
    EXPECT_EQ(offload::testing::l4_verify(got[0].frame.data(), f.l3 + 4, f.l4 + 4, l4_len, false, 6), 0);
  }
}

TEST(DeviceOffload, VlanPushOnGsoFrames) {
  FrameSpec s;
  s.payload = 20000;
  const uint32_t mss = 1400;
  const Built f = offload::testing::build_frame(s);
  const auto hdr = offload::testing::gso_header(f, s, virtio::kNetHdrGsoTcpv4, mss);
  {
    SCOPED_TRACE("pass-through");
    Pair p(kGuestOffloads);
    p.b.post_rx(0, 32, 4096);
    ASSERT_TRUE(p.a.send(0, f.bytes, {}, hdr));
    ASSERT_EQ(forward_burst(p.da, p.db, 0, dataplane::VlanEdit::push, 7), 1);
    auto got = p.drain();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].hdr.csum_start, hdr.csum_start + 4);
    EXPECT_EQ(got[0].hdr.hdr_len, hdr.hdr_len + 4);
    EXPECT_EQ(got[0].hdr.gso_size, mss);
  }
  {
    SCOPED_TRACE("segmented");
    Pair p(0);
    p.b.post_rx(0, 32, 2048);
    ASSERT_TRUE(p.a.send(0, f.bytes, {}, hdr));
    ASSERT_EQ(forward_burst(p.da, p.db, 0, dataplane::VlanEdit::push, 7), 1);
    auto got = p.drain();
    for (const auto& r : got) EXPECT_EQ(be16(&r.frame[12]), 0x8100);
    check_tcp_segments(got, f, s, mss, 4);
  }
}

TEST(DeviceOffload, VlanPopOnGsoFrameSegmented) {
  FrameSpec s;
  s.vlan = true;
  s.payload = 9000;
  const uint32_t mss = 1000;
  const Built f = offload::testing::build_frame(s);
  const auto hdr = offload::testing::gso_header(f, s, virtio::kNetHdrGsoTcpv4, mss);
  Pair p(0);
  p.b.post_rx(0, 32, 2048);
  ASSERT_TRUE(p.a.send(0, f.bytes, {}, hdr));
  ASSERT_EQ(forward_burst(p.da, p.db, 0, dataplane::VlanEdit::pop, 0), 1);
  auto got = p.drain();
  // Compare against the same frame built untagged.
  FrameSpec u = s;
  u.vlan = false;
  check_tcp_segments(got, offload::testing::build_frame(u), u, mss);
}

// Headers that do not describe the frame, or offloads the source did not negotiate, never
// leave the source's TX queue.
TEST(DeviceOffload, InconsistentHeadersDroppedAndCounted) {
  FrameSpec s;
  s.payload = 3000;
  const Built f = offload::testing::build_frame(s);
  std::vector<std::pair<const char*, virtio::NetHdr>> bad;
  {
    auto h = offload::testing::csum_header(f, s);
    h.csum_start = static_cast<uint16_t>(f.bytes.size() + 10);
    bad.push_back({"csum_start past end", h});
  }
  {
    auto h = offload::testing::csum_header(f, s);
    h.csum_offset = static_cast<uint16_t>(f.bytes.size());
    bad.push_back({"csum_offset past end", h});
  }
  {
    auto h = offload::testing::gso_header(f, s, virtio::kNetHdrGsoTcpv4, 0);
    bad.push_back({"gso_size 0", h});
  }
  {
    auto h = offload::testing::gso_header(f, s, 2, 1448);
    bad.push_back({"unknown gso_type", h});
  }
  {
    auto h = offload::testing::gso_header(f, s, virtio::kNetHdrGsoTcpv6, 1448);
    bad.push_back({"TCPV6 on an IPv4 frame", h});
  }
  {
    auto h = offload::testing::gso_header(f, s, virtio::kNetHdrGsoTcpv4, 1448);
    h.hdr_len = static_cast<uint16_t>(f.bytes.size() + 1);
    bad.push_back({"hdr_len past end", h});
  }
  {
    virtio::NetHdr h{};
    h.flags = 0x40;
    bad.push_back({"unknown flag", h});
  }
  Pair p(0);
  p.b.post_rx(0, 32, 2048);
  for (const auto& [what, h] : bad) ASSERT_TRUE(p.a.send(0, f.bytes, {}, h)) << what;
  EXPECT_EQ(forward_burst(p.da, p.db), 0);
  EXPECT_TRUE(p.drain().empty());
  EXPECT_EQ(p.da.queue_stats(tx_vq(0)).drop(DropReason::bad_offload), bad.size());
  EXPECT_EQ(p.a.reap_tx(0), static_cast<int>(bad.size())) << "dropped chains are still completed";

  // A good frame after them still goes through.
  ASSERT_TRUE(p.a.send(0, f.bytes, {}, offload::testing::csum_header(f, s)));
  EXPECT_EQ(forward_burst(p.da, p.db), 1);
  EXPECT_EQ(p.drain().size(), 1u);
}

TEST(DeviceOffload, OffloadsNotNegotiatedBySourceAreDropped) {
  FrameSpec s;
  s.payload = 3000;
  const Built f = offload::testing::build_frame(s);
  Pair p(kGuestOffloads, /*src_features=*/0);
  p.b.post_rx(0, 8, 2048);
  ASSERT_TRUE(p.a.send(0, f.bytes, {}, offload::testing::gso_header(f, s, virtio::kNetHdrGsoTcpv4, 1448)));
  ASSERT_TRUE(p.a.send(0, f.bytes, {}, offload::testing::csum_header(f, s)));
  EXPECT_EQ(forward_burst(p.da, p.db), 0);
  EXPECT_EQ(p.da.queue_stats(tx_vq(0)).drop(DropReason::bad_offload), 2u);
}

// A guest may not tell others to skip checksum checks: DATA_VALID from a TX ring is cleared.
TEST(DeviceOffload, DataValidFromGuestIsCleared) {
  FrameSpec s;
  s.payload = 100;
  const Built f = offload::testing::build_frame(s);
  Pair p(kGuestOffloads);
  p.b.post_rx(0, 8, 2048);
  virtio::NetHdr h{};
  h.flags = virtio::kNetHdrFDataValid;
  ASSERT_TRUE(p.a.send(0, f.bytes, {}, h));
  ASSERT_EQ(forward_burst(p.da, p.db), 1);
  const auto got = p.drain();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].hdr.flags, 0);
}

// USO (UDP_L4): passed through to a guest with GUEST_USO4, cut into datagrams for one without.
TEST(DeviceOffload, UsoPassThroughOrSegmented) {
  FrameSpec s;
  s.udp = true;
  s.payload = 10000;
  const uint32_t mss = 1400;
  const Built f = offload::testing::build_frame(s);
  const auto hdr = offload::testing::gso_header(f, s, virtio::kNetHdrGsoUdpL4, mss);
  {
    SCOPED_TRACE("pass-through");
    Pair p(virtio::bit(virtio::kNetFGuestCsum) | virtio::bit(virtio::kNetFGuestUso4));
    p.b.post_rx(0, 16, 4096);
    ASSERT_TRUE(p.a.send(0, f.bytes, {}, hdr));
    ASSERT_EQ(forward_burst(p.da, p.db), 1);
    const auto got = p.drain();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].frame, f.bytes);
    EXPECT_EQ(got[0].hdr.gso_type, virtio::kNetHdrGsoUdpL4);
  }
  {
    SCOPED_TRACE("segmented");
    Pair p(virtio::bit(virtio::kNetFGuestCsum) | virtio::bit(virtio::kNetFGuestUso6));  // USO6 only
    p.b.post_rx(0, 16, 2048);
    ASSERT_TRUE(p.a.send(0, f.bytes, {}, hdr));
    ASSERT_EQ(forward_burst(p.da, p.db), 1);
    const auto got = p.drain();
    const uint32_t count = (s.payload + mss - 1) / mss;
    ASSERT_EQ(got.size(), count);
    for (uint32_t i = 0; i < count; ++i) {
      const uint8_t* fr = got[i].frame.data();
      const uint32_t plen = std::min(mss, s.payload - i * mss);
      ASSERT_EQ(got[i].frame.size(), f.headers + plen) << i;
      EXPECT_EQ(got[i].hdr.flags, 0);
      EXPECT_EQ(be16(fr + f.l4 + 4), 8 + plen) << i;
      EXPECT_EQ(offload::testing::l4_verify(fr, f.l3, f.l4, 8 + plen, false, 17), 0) << i;
      EXPECT_TRUE(std::equal(fr + f.headers, fr + f.headers + plen, f.bytes.begin() + f.headers + i * mss)) << i;
    }
  }
}

// Segmentation into a guest that runs out of buffers: what fits is delivered, the rest is
// counted, nothing is left half-written.
TEST(DeviceOffload, SegmentationIntoFullGuestCountsTheRest) {
  FrameSpec s;
  s.payload = 14480;  // 10 segments
  const Built f = offload::testing::build_frame(s);
  Pair p(0);
  p.b.post_rx(0, 4, 2048);
  ASSERT_TRUE(p.a.send(0, f.bytes, {}, offload::testing::gso_header(f, s, virtio::kNetHdrGsoTcpv4, 1448)));
  ASSERT_EQ(forward_burst(p.da, p.db), 1);
  EXPECT_EQ(p.drain().size(), 4u);
  EXPECT_EQ(p.db.queue_stats(rx_vq(0)).drop(DropReason::no_rx_buffer), 6u);
}

}  // namespace
}  // namespace vnet::device
