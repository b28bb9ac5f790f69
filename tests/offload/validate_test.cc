// Every way a virtio_net_hdr can disagree with its frame, each with its own verdict; and the
// headers that must pass (including the lenient hdr_len rules).
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "offload/segmenter.h"
#include "offload/validate.h"
#include "offload_test_frames.h"

namespace vnet::offload {
namespace {

using namespace testing;
using virtio::NetHdr;

struct Case {
  const char* name;
  FrameSpec spec;
  uint8_t gso_type;
  std::function<void(NetHdr&, Built&)> edit;
  Verdict expect;
};

Validation run(const NetHdr& h, const Built& b) {
  ScatteredFrame sf(b.bytes, {5, 3, 11});
  return validate(h, sf.view());
}

const FrameSpec kTcp4{.payload = 3000};
const FrameSpec kTcp6{.ipv6 = true, .payload = 3000};
const FrameSpec kUdp4{.udp = true, .payload = 3000};
const FrameSpec kUdp6{.ipv6 = true, .udp = true, .payload = 3000};

std::vector<Case> cases() {
  using namespace virtio;
  auto none = [](NetHdr&, Built&) {};
  return {
      {"ok_tcp4", kTcp4, kNetHdrGsoTcpv4, none, Verdict::ok},
      {"ok_tcp6_vlan", {.ipv6 = true, .vlan = true, .payload = 3000}, kNetHdrGsoTcpv6, none, Verdict::ok},
      {"ok_uso4", kUdp4, kNetHdrGsoUdpL4, none, Verdict::ok},
      {"ok_uso6", kUdp6, kNetHdrGsoUdpL4, none, Verdict::ok},
      {"ok_ufo4", kUdp4, kNetHdrGsoUdp, none, Verdict::ok},
      {"ok_tcp4_ecn", kTcp4, kNetHdrGsoTcpv4 | kNetHdrGsoEcn, none, Verdict::ok},
      {"ok_hdr_len_zero", kTcp4, kNetHdrGsoTcpv4, [](NetHdr& h, Built&) { h.hdr_len = 0; }, Verdict::ok},
      {"ok_hdr_len_includes_payload", kTcp4, kNetHdrGsoTcpv4, [](NetHdr& h, Built&) { h.hdr_len = 1000; }, Verdict::ok},
      {"ok_hdr_len_equals_len", kTcp4, kNetHdrGsoTcpv4,
       [](NetHdr& h, Built& b) { h.hdr_len = static_cast<uint16_t>(b.bytes.size()); }, Verdict::ok},
      {"ok_no_offload", kTcp4, kNetHdrGsoNone, [](NetHdr& h, Built&) { h = NetHdr{}; h.hdr_len = 60000; h.gso_size = 0; },
       Verdict::ok},
      {"ok_csum_only", kUdp4, kNetHdrGsoNone, [](NetHdr& h, Built&) { h.gso_size = 0; h.hdr_len = 0; }, Verdict::ok},
      {"ok_data_valid", kTcp4, kNetHdrGsoNone, [](NetHdr& h, Built&) { h = NetHdr{}; h.flags = kNetHdrFDataValid; },
       Verdict::ok},
      {"ok_csum_fields_ignored_without_needs_csum", kTcp4, kNetHdrGsoNone,
       [](NetHdr& h, Built&) { h = NetHdr{}; h.csum_start = 65000; h.csum_offset = 65000; }, Verdict::ok},
      {"ok_ipv4_no_df", {.payload = 3000, .df = false}, kNetHdrGsoTcpv4, none, Verdict::ok},

      {"unknown_flags_rsc", kTcp4, kNetHdrGsoTcpv4, [](NetHdr& h, Built&) { h.flags |= kNetHdrFRscInfo; },
       Verdict::unknown_flags},
      {"unknown_flags_high", kTcp4, kNetHdrGsoNone, [](NetHdr& h, Built&) { h.flags = 0x80; }, Verdict::unknown_flags},
      {"csum_start_past_end", kTcp4, kNetHdrGsoNone,
       [](NetHdr& h, Built& b) { h.csum_start = static_cast<uint16_t>(b.bytes.size()); h.csum_offset = 0; },
       Verdict::csum_start_past_end},
      {"csum_offset_past_end", kTcp4, kNetHdrGsoNone,
       [](NetHdr& h, Built& b) { h.csum_start = static_cast<uint16_t>(b.bytes.size() - 2); h.csum_offset = 1; },
       Verdict::csum_offset_past_end},
      {"csum_offset_huge", kTcp4, kNetHdrGsoTcpv4, [](NetHdr& h, Built&) { h.csum_offset = 0xffff; },
       Verdict::csum_offset_past_end},
      {"unknown_gso_type_2", kTcp4, 2, none, Verdict::unknown_gso_type},
      {"unknown_gso_type_6_ecn", kTcp4, 6 | kNetHdrGsoEcn, none, Verdict::unknown_gso_type},
      {"ecn_without_gso", kTcp4, kNetHdrGsoEcn, none, Verdict::ecn_without_gso},
      {"gso_size_zero", kTcp4, kNetHdrGsoTcpv4, [](NetHdr& h, Built&) { h.gso_size = 0; }, Verdict::gso_size_zero},
      {"gso_without_needs_csum", kTcp4, kNetHdrGsoTcpv4, [](NetHdr& h, Built&) { h.flags = 0; },
       Verdict::gso_without_needs_csum},
      {"gso_with_only_data_valid", kTcp4, kNetHdrGsoTcpv4, [](NetHdr& h, Built&) { h.flags = kNetHdrFDataValid; },
       Verdict::gso_without_needs_csum},
      {"hdr_len_past_end", kTcp4, kNetHdrGsoTcpv4,
       [](NetHdr& h, Built& b) { h.hdr_len = static_cast<uint16_t>(b.bytes.size() + 1); }, Verdict::hdr_len_past_end},
      {"hdr_len_too_small", kTcp4, kNetHdrGsoTcpv4, [](NetHdr& h, Built& b) { h.hdr_len = static_cast<uint16_t>(b.headers - 1); },
       Verdict::hdr_len_too_small},
      {"frame_too_short_eth", kTcp4, kNetHdrGsoTcpv4,
       [](NetHdr& h, Built& b) { b.bytes.resize(13); h.csum_start = 0; h.csum_offset = 0; h.hdr_len = 0; },
       Verdict::frame_too_short},
      {"frame_too_short_tcp", kTcp4, kNetHdrGsoTcpv4, [](NetHdr& h, Built& b) { b.bytes.resize(b.l4 + 18); h.hdr_len = 0; },
       Verdict::frame_too_short},
      {"frame_too_short_tcp_options", {.payload = 0, .tcp_options = 20}, kNetHdrGsoTcpv4,
       [](NetHdr& h, Built& b) { b.bytes.resize(b.l4 + 30); h.hdr_len = 0; }, Verdict::frame_too_short},
      {"frame_too_short_ipv6", kTcp6, kNetHdrGsoTcpv6,
       [](NetHdr& h, Built& b) { b.bytes.resize(b.l3 + 30); h.csum_start = 0; h.csum_offset = 0; h.hdr_len = 0; },
       Verdict::frame_too_short},
      {"not_ip_arp", kTcp4, kNetHdrGsoTcpv4, [](NetHdr&, Built& b) { b.bytes[12] = 0x08; b.bytes[13] = 0x06; },
       Verdict::not_ip},
      {"not_ip_behind_vlan", {.vlan = true, .payload = 100}, kNetHdrGsoTcpv4,
       [](NetHdr&, Built& b) { b.bytes[16] = 0x88; b.bytes[17] = 0xcc; }, Verdict::not_ip},
      {"qinq", kTcp4, kNetHdrGsoTcpv4, [](NetHdr&, Built& b) { b.bytes[12] = 0x88; b.bytes[13] = 0xa8; },
       Verdict::unsupported_l2},
      {"double_vlan", {.vlan = true, .payload = 100}, kNetHdrGsoTcpv4,
       [](NetHdr&, Built& b) { b.bytes[16] = 0x81; b.bytes[17] = 0x00; }, Verdict::unsupported_l2},
      {"tcpv4_on_ipv6", kTcp6, kNetHdrGsoTcpv4, none, Verdict::ip_version_mismatch},
      {"tcpv6_on_ipv4", kTcp4, kNetHdrGsoTcpv6, none, Verdict::ip_version_mismatch},
      {"ipv4_ethertype_version_6", kTcp4, kNetHdrGsoTcpv4, [](NetHdr&, Built& b) { b.bytes[b.l3] = 0x65; },
       Verdict::ip_version_mismatch},
      {"ipv6_ethertype_version_4", kTcp6, kNetHdrGsoTcpv6, [](NetHdr&, Built& b) { b.bytes[b.l3] = 0x40; },
       Verdict::ip_version_mismatch},
      {"ipv4_ihl_4", kTcp4, kNetHdrGsoTcpv4, [](NetHdr&, Built& b) { b.bytes[b.l3] = 0x44; }, Verdict::bad_ip_header},
      {"ipv4_ihl_past_frame", kTcp4, kNetHdrGsoTcpv4,
       [](NetHdr& h, Built& b) { b.bytes[b.l3] = 0x4f; b.bytes.resize(b.l3 + 50); h.csum_start = 0; h.csum_offset = 0; h.hdr_len = 0; },
       Verdict::frame_too_short},
      {"ipv4_more_fragments", kTcp4, kNetHdrGsoTcpv4, [](NetHdr&, Built& b) { b.bytes[b.l3 + 6] |= 0x20; },
       Verdict::ip_fragment},
      {"ipv4_fragment_offset", kUdp4, kNetHdrGsoUdpL4, [](NetHdr&, Built& b) { b.bytes[b.l3 + 7] = 1; },
       Verdict::ip_fragment},
      {"ipv6_hop_by_hop", kTcp6, kNetHdrGsoTcpv6, [](NetHdr&, Built& b) { b.bytes[b.l3 + 6] = 0; },
       Verdict::ipv6_extension_headers},
      {"ipv6_fragment_header", kUdp6, kNetHdrGsoUdpL4, [](NetHdr&, Built& b) { b.bytes[b.l3 + 6] = 44; },
       Verdict::ipv6_extension_headers},
      {"tcp_gso_on_udp", kUdp4, kNetHdrGsoTcpv4, [](NetHdr& h, Built&) { h.csum_offset = 16; },
       Verdict::l4_protocol_mismatch},
      {"udp_gso_on_tcp", kTcp4, kNetHdrGsoUdpL4, none, Verdict::l4_protocol_mismatch},
      {"ipv6_icmp", kTcp6, kNetHdrGsoTcpv6, [](NetHdr&, Built& b) { b.bytes[b.l3 + 6] = 58; },
       Verdict::l4_protocol_mismatch},
      {"tcp_doff_4", kTcp4, kNetHdrGsoTcpv4, [](NetHdr&, Built& b) { b.bytes[b.l4 + 12] = 0x40; }, Verdict::bad_l4_header},
      {"csum_start_not_l4", kTcp4, kNetHdrGsoTcpv4, [](NetHdr& h, Built&) { h.csum_start -= 2; h.csum_offset += 2; },
       Verdict::csum_start_not_l4},
      {"csum_offset_not_tcp_check", kTcp4, kNetHdrGsoTcpv4, [](NetHdr& h, Built&) { h.csum_offset = 6; },
       Verdict::csum_offset_not_l4_check},
      {"csum_offset_not_udp_check", kUdp6, kNetHdrGsoUdpL4, [](NetHdr& h, Built&) { h.csum_offset = 16; },
       Verdict::csum_offset_not_l4_check},
      {"segment_too_large_ipv4", kTcp4, kNetHdrGsoTcpv4, [](NetHdr& h, Built&) { h.gso_size = 65535 - 40 + 1; },
       Verdict::segment_too_large},
      {"segment_too_large_ipv6", kUdp6, kNetHdrGsoUdpL4, [](NetHdr& h, Built&) { h.gso_size = 65535 - 8 + 1; },
       Verdict::segment_too_large},
      {"segment_just_fits_ipv4", kTcp4, kNetHdrGsoTcpv4, [](NetHdr& h, Built&) { h.gso_size = 65535 - 40; }, Verdict::ok},
      {"ufo_datagram_too_large", {.udp = true, .payload = 65535 - 8 - 20 + 1}, kNetHdrGsoUdp, none,
       Verdict::datagram_too_large},
      {"ufo_datagram_just_fits", {.udp = true, .payload = 65535 - 8 - 20}, kNetHdrGsoUdp, none, Verdict::ok},
      {"ufo_ipv6", kUdp6, kNetHdrGsoUdp, none, Verdict::ufo_ipv6_unsupported},
      {"ufo_ipv4_options", {.udp = true, .payload = 3000, .ip_options = 4}, kNetHdrGsoUdp, none, Verdict::ufo_ipv4_options},
      {"ufo_gso_size_7", kUdp4, kNetHdrGsoUdp, [](NetHdr& h, Built&) { h.gso_size = 7; }, Verdict::ufo_gso_size_too_small},
  };
}

class ValidateCase : public ::testing::TestWithParam<Case> {};

TEST_P(ValidateCase, GivesItsVerdict) {
  const Case& c = GetParam();
  Built b = build_frame(c.spec);
  NetHdr h = gso_header(b, c.spec, c.gso_type, 1400);
  c.edit(h, b);
  const Validation v = run(h, b);
  EXPECT_EQ(v.verdict, c.expect) << verdict_name(v.verdict) << " != " << verdict_name(c.expect);
  // The Segmenter decides the same way on its own header copy.
  if (gso_kind(h.gso_type) != GsoKind::none || c.expect != Verdict::ok) {
    ScatteredFrame sf(b.bytes, {2, 9});
    Segmenter seg;
    EXPECT_EQ(seg.start(h, sf.view()), c.expect);
  }
  if (v.ok() && gso_kind(h.gso_type) != GsoKind::none) {
    EXPECT_EQ(v.layout.l3_offset, b.l3);
    EXPECT_EQ(v.layout.l4_offset, b.l4);
    EXPECT_EQ(v.layout.headers_len, b.headers);
    EXPECT_EQ(v.layout.l3, c.spec.ipv6 ? L3::ipv6 : L3::ipv4);
  }
}

INSTANTIATE_TEST_SUITE_P(AllReasons, ValidateCase, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// Every reason validate() can give is exercised above, by name.
TEST(ValidateCase, EveryValidationVerdictIsCovered) {
  std::set<Verdict> seen;
  for (const auto& c : cases()) seen.insert(c.expect);
  for (size_t i = 0; i < kVerdictCount; ++i) {
    const auto v = static_cast<Verdict>(i);
    if (v == Verdict::not_gso || v == Verdict::buffer_too_small) continue;  // Segmenter-only
    EXPECT_TRUE(seen.count(v)) << verdict_name(v);
  }
}

TEST(VerdictName, AllDistinct) {
  std::set<std::string> names;
  for (size_t i = 0; i < kVerdictCount; ++i) names.insert(verdict_name(static_cast<Verdict>(i)));
  EXPECT_EQ(names.size(), kVerdictCount);
  EXPECT_STREQ(verdict_name(Verdict::count), "unknown");
}

TEST(Validate, ReadsNothingPastLenEvenWhenSpansAreLonger) {
  // The spans hold a whole TCP frame but len stops inside the TCP header.
  const FrameSpec s{.payload = 100};
  const Built b = build_frame(s);
  ScatteredFrame sf(b.bytes, {4096});
  FrameView v = sf.view();
  v.len = b.l4 + 18;  // the check field fits, the 20-byte TCP header does not
  NetHdr h = gso_header(b, s, virtio::kNetHdrGsoTcpv4, 1000);
  h.hdr_len = 0;
  EXPECT_EQ(validate(h, v).verdict, Verdict::frame_too_short);
}

TEST(Validate, SpansShorterThanLenAreTooShort) {
  const FrameSpec s{.payload = 100};
  const Built b = build_frame(s);
  std::vector<uint8_t> head(b.bytes.begin(), b.bytes.begin() + b.l4 + 4);
  ScatteredFrame sf(head, {7});
  FrameView v = sf.view();
  v.len = static_cast<uint32_t>(b.bytes.size());
  EXPECT_EQ(validate(gso_header(b, s, virtio::kNetHdrGsoTcpv4, 1000), v).verdict, Verdict::frame_too_short);
}

}  // namespace
}  // namespace vnet::offload
