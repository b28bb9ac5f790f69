// Internet checksum primitives and NEEDS_CSUM completion, checked against a plain RFC 1071
// implementation over flat copies, with frames split at odd offsets across many spans.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "offload/checksum.h"
#include "offload/internet_checksum.h"
#include "offload_test_frames.h"

namespace vnet::offload {
namespace {

using namespace testing;

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST(OnesSum, MatchesReferenceForAllSmallLengthsAndAlignments) {
  const auto data = random_bytes(300, 1);
  for (size_t start = 0; start < 9; ++start) {
    for (size_t n = 0; n + start <= data.size(); ++n) {
      std::vector<uint8_t> piece(data.begin() + start, data.begin() + start + n);
      ASSERT_EQ(static_cast<uint16_t>(~ones_sum(data.data() + start, n)), rfc1071(piece)) << start << " " << n;
    }
  }
}

TEST(OnesSum, AllOnesDoesNotOverflow) {
  std::vector<uint8_t> v(70000, 0xff);
  EXPECT_EQ(static_cast<uint16_t>(~ones_sum(v.data(), v.size())), rfc1071(v));
}

TEST(ChecksumAccumulator, PiecesAtOddBoundariesSumLikeOneBuffer) {
  const auto data = random_bytes(1001, 2);
  std::mt19937 rng(3);
  for (int round = 0; round < 200; ++round) {
    ChecksumAccumulator acc;
    size_t pos = 0;
    while (pos < data.size()) {
      const size_t n = std::min<size_t>(1 + rng() % 13, data.size() - pos);
      acc.add(data.data() + pos, n);
      pos += n;
    }
    ASSERT_EQ(acc.finish(), rfc1071(data));
  }
}

struct CsumCase {
  FrameSpec spec;
  const char* name;
};

class CompleteChecksum : public ::testing::TestWithParam<CsumCase> {};

TEST_P(CompleteChecksum, InPlaceMatchesIndependentChecksum) {
  const auto& spec = GetParam().spec;
  auto b = build_frame(spec);
  const auto hdr = csum_header(b, spec);
  ASSERT_TRUE(complete_checksum(hdr, b.bytes.data(), static_cast<uint32_t>(b.bytes.size())));
  const uint8_t proto = spec.udp ? 17 : 6;
  EXPECT_EQ(l4_verify(b.bytes.data(), b.l3, b.l4, static_cast<uint32_t>(b.bytes.size()) - b.l4, spec.ipv6, proto), 0);
  // And equals the checksum computed from scratch with the field zeroed.
  auto copy = b.bytes;
  const uint32_t field = b.l4 + (spec.udp ? 6 : 16);
  copy[field] = copy[field + 1] = 0;
  uint16_t expect = l4_verify(copy.data(), b.l3, b.l4, static_cast<uint32_t>(copy.size()) - b.l4, spec.ipv6, proto);
  if (expect == 0) expect = 0xffff;
  EXPECT_EQ((b.bytes[field] << 8) | b.bytes[field + 1], expect);
}

TEST_P(CompleteChecksum, PatchFromScatteredSpansEqualsInPlace) {
  const auto& spec = GetParam().spec;
  const auto b = build_frame(spec);
  const auto hdr = csum_header(b, spec);
  auto flat = b.bytes;
  ASSERT_TRUE(complete_checksum(hdr, flat.data(), static_cast<uint32_t>(flat.size())));
  const std::vector<std::vector<uint32_t>> layouts = {{1}, {3}, {7, 1, 2}, {5, 9, 13, 1}, {4096}, {61, 2, 1}};
  for (const auto& sizes : layouts) {
    for (uint32_t lead : {0u, 1u, 3u}) {
      ScatteredFrame sf(b.bytes, sizes, lead);
      const auto patch = compute_checksum_patch(hdr, sf.view());
      ASSERT_TRUE(patch.has_value());
      EXPECT_EQ(patch->offset, hdr.csum_start + hdr.csum_offset);
      // A copier applying the patch chunk by chunk (chunks of 5 bytes: the field may straddle).
      std::vector<uint8_t> out(b.bytes.size());
      for (uint32_t pos = 0; pos < out.size(); pos += 5) {
        const uint32_t n = std::min<uint32_t>(5, static_cast<uint32_t>(out.size()) - pos);
        ASSERT_EQ(copy_out(sf.view(), pos, out.data() + pos, n), n);
        apply_patch(*patch, pos, out.data() + pos, n);
      }
      EXPECT_EQ(out, flat) << "sizes[0]=" << sizes[0] << " lead=" << lead;
      // A writev-style span list with the field taken from scratch.
      uint8_t scratch[2];
      std::vector<HostSpan> spans(sf.span_count() + 3);
      const size_t k = splice_patch(sf.view(), *patch, scratch, spans.data(), spans.size());
      ASSERT_GT(k, 0u);
      std::vector<uint8_t> gathered;
      for (size_t i = 0; i < k; ++i) gathered.insert(gathered.end(), spans[i].data, spans[i].data + spans[i].len);
      EXPECT_EQ(gathered, flat);
      // Guest memory is never written.
      std::vector<uint8_t> again(b.bytes.size());
      ASSERT_EQ(copy_out(sf.view(), 0, again.data(), static_cast<uint32_t>(again.size())), again.size());
      EXPECT_EQ(again, b.bytes);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Frames, CompleteChecksum,
    ::testing::Values(CsumCase{{.payload = 0}, "tcp4_empty"}, CsumCase{{.payload = 1}, "tcp4_odd1"},
                      CsumCase{{.payload = 1459}, "tcp4_odd"}, CsumCase{{.vlan = true, .payload = 100}, "tcp4_vlan"},
                      CsumCase{{.ipv6 = true, .payload = 777}, "tcp6"},
                      CsumCase{{.ipv6 = true, .vlan = true, .udp = true, .payload = 333}, "udp6_vlan"},
                      CsumCase{{.udp = true, .payload = 9000}, "udp4_jumbo"},
                      CsumCase{{.payload = 200, .ip_options = 8, .tcp_options = 12}, "tcp4_options"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(CompleteChecksum, ZeroResultIsStoredAsFfff) {
  // A range whose sum is 0xffff: complement 0 must become 0xffff.
  std::vector<uint8_t> f(20, 0);
  f[10] = 0xff;
  f[11] = 0xff;  // this is the field itself (csum_start 10, csum_offset 0)
  virtio::NetHdr h{};
  h.flags = virtio::kNetHdrFNeedsCsum;
  h.csum_start = 10;
  h.csum_offset = 0;
  ASSERT_TRUE(complete_checksum(h, f.data(), 20));
  EXPECT_EQ(f[10], 0xff);
  EXPECT_EQ(f[11], 0xff);
}

TEST(CompleteChecksum, OddCsumStartSumsFromThere) {
  auto data = random_bytes(101, 9);
  virtio::NetHdr h{};
  h.flags = virtio::kNetHdrFNeedsCsum;
  h.csum_start = 13;
  h.csum_offset = 4;
  data[17] = data[18] = 0;  // no pseudo-header seed: the completed range must sum to zero
  ScatteredFrame sf(data, {3, 2, 7});
  const auto patch = compute_checksum_patch(h, sf.view());
  ASSERT_TRUE(patch);
  ASSERT_TRUE(complete_checksum(h, data.data(), 101));
  EXPECT_EQ(patch->bytes[0], data[17]);
  EXPECT_EQ(patch->bytes[1], data[18]);
  // The completed range sums to zero (checked with the reference over the flat range).
  std::vector<uint8_t> range(data.begin() + 13, data.end());
  EXPECT_EQ(rfc1071(range), 0);
}

TEST(CompleteChecksum, RefusesFieldsOutsideTheFrameOrWithoutNeedsCsum) {
  std::vector<uint8_t> f(40, 1);
  virtio::NetHdr h{};
  h.csum_start = 10;
  h.csum_offset = 6;
  EXPECT_FALSE(complete_checksum(h, f.data(), 40));  // no NEEDS_CSUM
  h.flags = virtio::kNetHdrFNeedsCsum;
  h.csum_offset = 29;  // field at 39..40: one byte past the end
  EXPECT_FALSE(complete_checksum(h, f.data(), 40));
  ScatteredFrame sf(f, {7});
  EXPECT_FALSE(compute_checksum_patch(h, sf.view()));
  h.csum_offset = 28;
  EXPECT_TRUE(complete_checksum(h, f.data(), 40));
  h.csum_start = 40;
  h.csum_offset = 0;
  EXPECT_FALSE(complete_checksum(h, f.data(), 40));
}

TEST(CompleteChecksum, SpansShorterThanLenGiveNoPatch) {
  std::vector<uint8_t> f(40, 1);
  ScatteredFrame sf(f, {7});
  FrameView v = sf.view();
  v.len = 60;  // the caller claims more than the spans hold
  virtio::NetHdr h{};
  h.flags = virtio::kNetHdrFNeedsCsum;
  h.csum_start = 10;
  h.csum_offset = 6;
  EXPECT_FALSE(compute_checksum_patch(h, v));
  uint8_t scratch[2];
  HostSpan out[16];
  EXPECT_EQ(splice_patch(v, ChecksumPatch{16, {1, 2}}, scratch, out, 16), 0u);
}

TEST(SplicePatch, TooFewOutputSpansFails) {
  std::vector<uint8_t> f(40, 1);
  ScatteredFrame sf(f, {10});
  uint8_t scratch[2];
  HostSpan out[3];
  EXPECT_EQ(splice_patch(sf.view(), ChecksumPatch{15, {1, 2}}, scratch, out, 3), 0u);
  HostSpan enough[6];
  EXPECT_EQ(splice_patch(sf.view(), ChecksumPatch{15, {1, 2}}, scratch, enough, 6), 6u);  // 10 | 5, [2], 3 | 10 | 10
}

TEST(FrameReader, CopyOutNeverReadsPastLenOrSpans) {
  auto data = random_bytes(50, 4);
  ScatteredFrame sf(data, {1, 2, 3}, 5);
  uint8_t out[64];
  EXPECT_EQ(copy_out(sf.view(), 0, out, 64), 50u);
  EXPECT_EQ(0, std::memcmp(out, data.data(), 50));
  EXPECT_EQ(copy_out(sf.view(), 49, out, 64), 1u);
  EXPECT_EQ(copy_out(sf.view(), 50, out, 64), 0u);
  EXPECT_EQ(copy_out(sf.view(), 1000, out, 64), 0u);
  FrameView shorter = sf.view();
  shorter.len = 20;
  EXPECT_EQ(copy_out(shorter, 10, out, 64), 10u);
  FrameReader r(sf.view());
  r.seek(40);
  EXPECT_EQ(r.read(out, 4), 4u);
  r.seek(3);  // backwards
  EXPECT_EQ(r.read(out, 2), 2u);
  EXPECT_EQ(out[0], data[3]);
  EXPECT_EQ(out[1], data[4]);
}

}  // namespace
}  // namespace vnet::offload
