// Software segmentation checked the way a receiver would: every segment's IP header checksum and
// transport checksum verified with the plain reference, lengths and ids consistent, the TCP byte
// stream (or the UDP datagrams / the IPv4 fragments) reassembled and compared with the original.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "offload/segmenter.h"
#include "offload_test_frames.h"

namespace vnet::offload {
namespace {

using namespace testing;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t be32(const uint8_t* p) { return (uint32_t{be16(p)} << 16) | be16(p + 2); }

std::vector<std::vector<uint8_t>> segment_all(Segmenter& seg, const virtio::NetHdr& h, const FrameView& v) {
  std::vector<std::vector<uint8_t>> out;
  EXPECT_EQ(seg.start(h, v), Verdict::ok);
  std::vector<uint8_t> buf(seg.max_segment_size());
  while (!seg.done()) {
    const uint32_t n = seg.next(buf.data(), static_cast<uint32_t>(buf.size()));
    EXPECT_GT(n, 0u);
    if (n == 0) break;
    EXPECT_LE(n, seg.max_segment_size());
    out.emplace_back(buf.begin(), buf.begin() + n);
  }
  EXPECT_EQ(out.size(), seg.segment_count());
  EXPECT_EQ(seg.next(buf.data(), static_cast<uint32_t>(buf.size())), 0u);
  return out;
}

void check_ip(const std::vector<uint8_t>& s, const Built& b, const FrameSpec& spec, uint32_t i, bool ufo) {
  const uint8_t* f = s.data();
  // L2 untouched.
  EXPECT_EQ(0, std::memcmp(f, b.bytes.data(), b.l3));
  if (spec.ipv6) {
    EXPECT_EQ(be16(f + b.l3 + 4), s.size() - b.l3 - 40);
    EXPECT_EQ(0, std::memcmp(f + b.l3, b.bytes.data() + b.l3, 4));       // version, class, flow
    EXPECT_EQ(0, std::memcmp(f + b.l3 + 6, b.bytes.data() + b.l3 + 6, 34));  // nh, hops, addresses
  } else {
    const uint32_t ihl = b.l4 - b.l3;
    EXPECT_EQ(be16(f + b.l3 + 2), s.size() - b.l3);
    EXPECT_EQ(be16(f + b.l3 + 4), static_cast<uint16_t>(spec.ip_id + (ufo ? 0 : i)));
    std::vector<uint8_t> iph(f + b.l3, f + b.l3 + ihl);
    EXPECT_EQ(rfc1071(iph), 0) << "IPv4 header checksum, segment " << i;
    EXPECT_EQ(0, std::memcmp(f + b.l3 + 12, b.bytes.data() + b.l3 + 12, ihl - 12));  // addresses, options
    EXPECT_EQ(f[b.l3 + 1], b.bytes[b.l3 + 1]);  // TOS/ECN bits kept
    if (!ufo) {
      EXPECT_EQ(be16(f + b.l3 + 6), spec.df ? 0x4000 : 0);
    }
  }
}

struct TcpCase {
  const char* name;
  FrameSpec spec;
  uint16_t mss;
  std::vector<uint32_t> spans;
  uint32_t lead;
  bool ecn;
};

class TcpSegmentation : public ::testing::TestWithParam<TcpCase> {};

TEST_P(TcpSegmentation, SegmentsReassembleToTheOriginalStream) {
  const TcpCase& c = GetParam();
  const Built b = build_frame(c.spec);
  auto h = gso_header(b, c.spec, c.spec.ipv6 ? virtio::kNetHdrGsoTcpv6 : virtio::kNetHdrGsoTcpv4, c.mss);
  if (c.ecn) h.gso_type |= virtio::kNetHdrGsoEcn;
  ScatteredFrame sf(b.bytes, c.spans, c.lead);
  Segmenter seg;
  const auto segs = segment_all(seg, h, sf.view());
  const uint32_t payload = c.spec.payload;
  ASSERT_EQ(segs.size(), payload == 0 ? 1u : (payload + c.mss - 1) / c.mss);
  EXPECT_EQ(seg.max_segment_size(), b.headers + c.mss);

  std::vector<uint8_t> stream;
  uint32_t next_seq = c.spec.seq;
  const uint32_t thl = b.headers - b.l4;
  for (uint32_t i = 0; i < segs.size(); ++i) {
    const auto& s = segs[i];
    const bool last = i + 1 == segs.size();
    ASSERT_GE(s.size(), b.headers);
    const uint32_t plen = static_cast<uint32_t>(s.size()) - b.headers;
    if (!last) {
      EXPECT_EQ(plen, c.mss);
    }
    check_ip(s, b, c.spec, i, false);
    const uint8_t* th = s.data() + b.l4;
    EXPECT_EQ(be32(th + 4), next_seq) << "segment " << i;
    next_seq += plen;
    // Ports, ack, offset, window, urgent pointer, options unchanged.
    EXPECT_EQ(0, std::memcmp(th, b.bytes.data() + b.l4, 4));
    EXPECT_EQ(0, std::memcmp(th + 8, b.bytes.data() + b.l4 + 8, 5));
    EXPECT_EQ(0, std::memcmp(th + 14, b.bytes.data() + b.l4 + 14, 2));
    EXPECT_EQ(0, std::memcmp(th + 18, b.bytes.data() + b.l4 + 18, thl - 18));
    uint8_t want = c.spec.tcp_flags;
    if (!last) want &= static_cast<uint8_t>(~(kFin | kPsh));
    if (i > 0) want &= static_cast<uint8_t>(~kCwr);
    EXPECT_EQ(th[13], want) << "flags of segment " << i;
    EXPECT_EQ(l4_verify(s.data(), b.l3, b.l4, static_cast<uint32_t>(s.size()) - b.l4, c.spec.ipv6, 6), 0)
        << "TCP checksum of segment " << i;
    stream.insert(stream.end(), s.begin() + b.headers, s.end());
  }
  EXPECT_EQ(stream, std::vector<uint8_t>(b.bytes.begin() + b.headers, b.bytes.end()));
}

INSTANTIATE_TEST_SUITE_P(
    Frames, TcpSegmentation,
    ::testing::Values(
        TcpCase{"v4_64k", {.payload = 65535 - 40}, 1448, {4096}, 0, false},
        TcpCase{"v4_vlan_odd_spans", {.vlan = true, .payload = 10001, .tcp_flags = kAck | kPsh | kFin}, 1460, {7, 1, 13, 2, 3}, 3, false},
        TcpCase{"v6_odd_spans", {.ipv6 = true, .payload = 9999, .tcp_flags = kAck | kPsh | kFin | kCwr | kEce}, 1440, {1, 2, 3, 5, 8, 13, 21}, 1, true},
        TcpCase{"v6_vlan_options", {.ipv6 = true, .vlan = true, .payload = 5000, .tcp_options = 12}, 1000, {333, 1}, 5, false},
        TcpCase{"v4_options_both", {.payload = 4321, .ip_options = 8, .tcp_options = 40, .tcp_flags = kAck | kCwr}, 536, {17}, 0, true},
        TcpCase{"v4_exact_multiple", {.payload = 3 * 1448}, 1448, {1500}, 0, false},
        TcpCase{"v4_single_segment", {.payload = 100, .tcp_flags = kAck | kPsh | kFin}, 1448, {9}, 0, false},
        TcpCase{"v4_empty_payload_fin", {.payload = 0, .tcp_flags = kAck | kFin}, 1448, {5}, 0, false},
        TcpCase{"v4_mss_1", {.payload = 37, .tcp_flags = kAck | kPsh | kFin | kCwr}, 1, {3}, 0, false},
        TcpCase{"v4_odd_mss", {.payload = 7777, .ip_id = 0xfffe, .df = false}, 1001, {2, 3}, 1, false},
        TcpCase{"v4_seq_wraps", {.payload = 5000, .seq = 0xfffff000}, 1448, {64}, 0, false}),
    [](const auto& info) { return std::string(info.param.name); });

struct UdpCase {
  const char* name;
  FrameSpec spec;
  uint16_t mss;
  std::vector<uint32_t> spans;
};

class UsoSegmentation : public ::testing::TestWithParam<UdpCase> {};

TEST_P(UsoSegmentation, EverySegmentIsAValidDatagram) {
  const UdpCase& c = GetParam();
  const Built b = build_frame(c.spec);
  const auto h = gso_header(b, c.spec, virtio::kNetHdrGsoUdpL4, c.mss);
  ScatteredFrame sf(b.bytes, c.spans, 1);
  Segmenter seg;
  const auto segs = segment_all(seg, h, sf.view());
  ASSERT_EQ(segs.size(), c.spec.payload == 0 ? 1u : (c.spec.payload + c.mss - 1) / c.mss);
  std::vector<uint8_t> data;
  for (uint32_t i = 0; i < segs.size(); ++i) {
    const auto& s = segs[i];
    check_ip(s, b, c.spec, i, false);
    const uint8_t* uh = s.data() + b.l4;
    EXPECT_EQ(0, std::memcmp(uh, b.bytes.data() + b.l4, 4));  // ports
    EXPECT_EQ(be16(uh + 4), s.size() - b.l4);
    EXPECT_NE(be16(uh + 6), 0);  // a computed checksum, never "none"
    EXPECT_EQ(l4_verify(s.data(), b.l3, b.l4, static_cast<uint32_t>(s.size()) - b.l4, c.spec.ipv6, 17), 0);
    if (i + 1 < segs.size()) {
      EXPECT_EQ(s.size() - b.headers, c.mss);
    }
    data.insert(data.end(), s.begin() + b.headers, s.end());
  }
  EXPECT_EQ(data, std::vector<uint8_t>(b.bytes.begin() + b.headers, b.bytes.end()));
}

INSTANTIATE_TEST_SUITE_P(Frames, UsoSegmentation,
                         ::testing::Values(UdpCase{"v4", {.udp = true, .payload = 60000}, 1472, {4096, 3}},
                                           UdpCase{"v6_vlan", {.ipv6 = true, .vlan = true, .udp = true, .payload = 9001}, 1200, {1, 7}},
                                           UdpCase{"v4_vlan_odd", {.vlan = true, .udp = true, .payload = 333}, 7, {2}},
                                           UdpCase{"v6_empty", {.ipv6 = true, .udp = true, .payload = 0}, 1000, {5}}),
                         [](const auto& info) { return std::string(info.param.name); });

class UfoFragmentation : public ::testing::TestWithParam<UdpCase> {};

TEST_P(UfoFragmentation, FragmentsReassembleToOneValidDatagram) {
  const UdpCase& c = GetParam();
  const Built b = build_frame(c.spec);
  const auto h = gso_header(b, c.spec, virtio::kNetHdrGsoUdp, c.mss);
  ScatteredFrame sf(b.bytes, c.spans, 2);
  Segmenter seg;
  const auto frags = segment_all(seg, h, sf.view());
  const uint32_t fsize = c.mss & ~7u;
  const uint32_t ip_payload = static_cast<uint32_t>(b.bytes.size()) - b.l4;
  ASSERT_EQ(frags.size(), (ip_payload + fsize - 1) / fsize);
  std::map<uint32_t, std::vector<uint8_t>> by_offset;
  for (uint32_t i = 0; i < frags.size(); ++i) {
    const auto& f = frags[i];
    check_ip(f, b, c.spec, i, true);
    const uint16_t frag = be16(f.data() + b.l3 + 6);
    const uint32_t off = (frag & 0x1fff) * 8u;
    const bool mf = frag & 0x2000;
    EXPECT_EQ(frag & 0x4000, 0);  // DF cleared on fragments
    EXPECT_EQ(mf, off + (f.size() - b.l4) < ip_payload) << "MF on all but the fragment at the end";
    if (mf) {
      EXPECT_EQ(f.size() - b.l4, fsize);
    }
    EXPECT_TRUE(by_offset.emplace(off, std::vector<uint8_t>(f.begin() + b.l4, f.end())).second);
  }
  std::vector<uint8_t> dgram;
  for (auto& [off, bytes] : by_offset) {
    ASSERT_EQ(off, dgram.size()) << "fragments must tile the datagram";
    dgram.insert(dgram.end(), bytes.begin(), bytes.end());
  }
  ASSERT_EQ(dgram.size(), ip_payload);
  EXPECT_EQ(be16(dgram.data() + 4), ip_payload);
  EXPECT_EQ(0, std::memcmp(dgram.data() + 8, b.bytes.data() + b.headers, c.spec.payload));
  // Verify the UDP checksum of the reassembled datagram against a frame rebuilt around it.
  std::vector<uint8_t> whole(b.bytes.begin(), b.bytes.begin() + b.l4);
  whole.insert(whole.end(), dgram.begin(), dgram.end());
  EXPECT_EQ(l4_verify(whole.data(), b.l3, b.l4, ip_payload, false, 17), 0);
}

INSTANTIATE_TEST_SUITE_P(Frames, UfoFragmentation,
                         ::testing::Values(UdpCase{"v4_64k", {.udp = true, .payload = 65000}, 1480, {4096}},
                                           UdpCase{"v4_vlan_odd", {.vlan = true, .udp = true, .payload = 4001}, 1483, {3, 1}},
                                           UdpCase{"v4_single", {.udp = true, .payload = 100}, 1480, {7}},
                                           UdpCase{"v4_tiny_frags", {.udp = true, .payload = 77}, 8, {5}}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Segmenter, RefusesSmallBufferWithoutAdvancing) {
  const FrameSpec s{.payload = 3000};
  const Built b = build_frame(s);
  ScatteredFrame sf(b.bytes, {100});
  Segmenter seg;
  ASSERT_EQ(seg.start(gso_header(b, s, virtio::kNetHdrGsoTcpv4, 1000), sf.view()), Verdict::ok);
  std::vector<uint8_t> buf(seg.max_segment_size());
  EXPECT_EQ(seg.next(buf.data(), seg.max_segment_size() - 1), 0u);
  EXPECT_EQ(seg.error(), Verdict::buffer_too_small);
  EXPECT_FALSE(seg.done());
  EXPECT_EQ(seg.next(buf.data(), seg.max_segment_size()), b.headers + 1000);
}

TEST(Segmenter, NotGsoAndInvalidHeadersLeaveItDone) {
  const FrameSpec s{.payload = 3000};
  const Built b = build_frame(s);
  ScatteredFrame sf(b.bytes, {100});
  Segmenter seg;
  EXPECT_EQ(seg.start(csum_header(b, s), sf.view()), Verdict::not_gso);
  EXPECT_TRUE(seg.done());
  uint8_t buf[2048];
  EXPECT_EQ(seg.next(buf, sizeof buf), 0u);
  auto h = gso_header(b, s, virtio::kNetHdrGsoTcpv4, 1000);
  h.gso_size = 0;
  EXPECT_EQ(seg.start(h, sf.view()), Verdict::gso_size_zero);
  EXPECT_TRUE(seg.done());
}

TEST(Segmenter, ReusedAcrossFramesOfDifferentKinds) {
  Segmenter seg;
  const FrameSpec a{.ipv6 = true, .payload = 5000};
  const FrameSpec u{.udp = true, .payload = 5000};
  const Built ba = build_frame(a), bu = build_frame(u);
  ScatteredFrame sa(ba.bytes, {999}), su(bu.bytes, {999});
  EXPECT_EQ(segment_all(seg, gso_header(ba, a, virtio::kNetHdrGsoTcpv6, 1440), sa.view()).size(), 4u);
  EXPECT_EQ(segment_all(seg, gso_header(bu, u, virtio::kNetHdrGsoUdp, 1480), su.view()).size(), 4u);
  EXPECT_EQ(segment_all(seg, gso_header(ba, a, virtio::kNetHdrGsoTcpv6, 2500), sa.view()).size(), 2u);
}

TEST(Segmenter, HeadersAreReadOnceAtStart) {
  // A guest rewriting its headers after start() (while segments are produced) cannot change what
  // the segments carry: they use the copy start() validated.
  const FrameSpec s{.payload = 5000};
  const Built b = build_frame(s);
  const auto h = gso_header(b, s, virtio::kNetHdrGsoTcpv4, 1448);
  ScatteredFrame clean(b.bytes, {20});
  Segmenter seg;
  const auto want = segment_all(seg, h, clean.view());
  ScatteredFrame sf(b.bytes, {20});
  ASSERT_EQ(seg.start(h, sf.view()), Verdict::ok);
  const FrameView v = sf.view();
  for (uint32_t i = 0; i * 20 < b.headers; ++i) {  // header bytes only: payload is read later, once
    std::memset(v.spans[i].data, 0xff, std::min<uint32_t>(v.spans[i].len, b.headers - i * 20));
  }
  std::vector<uint8_t> buf(seg.max_segment_size());
  for (const auto& w : want) {
    const uint32_t n = seg.next(buf.data(), static_cast<uint32_t>(buf.size()));
    ASSERT_EQ(n, w.size());
    EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + n), w);
  }
  EXPECT_TRUE(seg.done());
}

TEST(FrameView, ViewOfPacket) {
  uint8_t bytes[10] = {1, 2, 3};
  HostSpan span{bytes, 10};
  dataplane::Packet p;
  p.spans = &span;
  p.nspans = 1;
  p.offset = 2;
  p.len = 8;
  const FrameView v = view_of(p);
  EXPECT_EQ(v.spans, &span);
  EXPECT_EQ(v.nspans, 1);
  EXPECT_EQ(v.offset, 2u);
  EXPECT_EQ(v.len, 8u);
  uint8_t out[8];
  EXPECT_EQ(copy_out(v, 0, out, 8), 8u);
  EXPECT_EQ(out[0], 3);
}

TEST(Segmenter, SpansShorterThanLenProduceZeroesNotOverreads) {
  // Caller bug: len claims more than the spans hold. Segments come out (zero-filled), no overread.
  const FrameSpec s{.payload = 3000};
  const Built b = build_frame(s);
  std::vector<uint8_t> part(b.bytes.begin(), b.bytes.begin() + 1000);
  ScatteredFrame sf(part, {333});
  FrameView v = sf.view();
  v.len = static_cast<uint32_t>(b.bytes.size());
  Segmenter seg;
  const auto segs = segment_all(seg, gso_header(b, s, virtio::kNetHdrGsoTcpv4, 1400), v);
  ASSERT_EQ(segs.size(), 3u);
  EXPECT_EQ(segs[2][b.headers + 10], 0);
}

}  // namespace
}  // namespace vnet::offload
