// vnet-perf's frame format: built frames are proper Ethernet/IPv4/UDP, a receiver tells its own
// intact frames from corrupt and foreign ones, and --flows rotates source MAC / IP / port.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "apps/vnet_perf/frame_format.h"
#include "apps/vnet_perf/report.h"

namespace vnet::perf {
namespace {

const Mac kSrc{0x02, 0, 0, 0, 0, 0x10}, kDst{0x02, 0, 0, 0, 0, 0x20};

std::vector<uint8_t> build(const FrameBuilder& fb, uint16_t stream, uint64_t seq) {
  std::vector<uint8_t> f(fb.frame_len());
  fb.build(f.data(), stream, seq, 12345);
  return f;
}

TEST(PerfFrame, RoundTripAtEverySize) {
  for (uint32_t len : {60u, 64u, 128u, 1514u, 1518u, 9000u}) {
    FrameBuilder fb(kSrc, kDst, 1, len);
    for (uint64_t seq : {0ull, 1ull, 255ull, 256ull, (1ull << 48) - 1}) {
      auto f = build(fb, 7, seq);
      ASSERT_EQ(f.size(), len);
      PerfHeader h{};
      ASSERT_EQ(check_frame(f, h), CheckResult::ok) << len << " " << seq;
      EXPECT_EQ(h.stream, 7);
      EXPECT_EQ(h.seq, seq);
      EXPECT_EQ(h.tx_ns, 12345u);
      EXPECT_EQ(f[12], 0x08);
      EXPECT_EQ(f[13], 0x00);
      EXPECT_EQ(f[14 + 9], 17) << "UDP";
      EXPECT_EQ((f[16] << 8 | f[17]), static_cast<int>(len - 14)) << "IPv4 total length";
      EXPECT_EQ((f[38] << 8 | f[39]), static_cast<int>(len - 34)) << "UDP length";
    }
  }
}

TEST(PerfFrame, CorruptAndForeignDetected) {
  FrameBuilder fb(kSrc, kDst, 1, 200);
  PerfHeader h{};
  auto f = build(fb, 0, 42);
  f[150] ^= 1;
  EXPECT_EQ(check_frame(f, h), CheckResult::corrupt) << "payload bit flip";
  f = build(fb, 0, 42);
  f[24] ^= 0x40;  // IP header checksum no longer matches
  EXPECT_EQ(check_frame(f, h), CheckResult::corrupt);
  f = build(fb, 0, 42);
  f.resize(150);  // truncated: IP length disagrees
  EXPECT_EQ(check_frame(f, h), CheckResult::corrupt);
  f = build(fb, 0, 42);
  f[42] ^= 0xff;  // magic
  EXPECT_EQ(check_frame(f, h), CheckResult::foreign);
  f = build(fb, 0, 42);
  f[12] = 0x86;  // not IPv4
  EXPECT_EQ(check_frame(f, h), CheckResult::foreign);
  EXPECT_EQ(check_frame(std::vector<uint8_t>(40), h), CheckResult::foreign) << "too short";
}

TEST(PerfFrame, FlowsRotateSourceAddresses) {
  FrameBuilder fb(kSrc, kDst, 16, 64);
  std::set<std::vector<uint8_t>> macs, ips, ports;
  for (uint64_t seq = 0; seq < 32; ++seq) {
    auto f = build(fb, 0, seq);
    EXPECT_TRUE(std::equal(kDst.begin(), kDst.end(), f.begin())) << "destination stays the peer";
    macs.insert({f.begin() + 6, f.begin() + 12});
    ips.insert({f.begin() + 26, f.begin() + 30});
    ports.insert({f.begin() + 34, f.begin() + 36});
  }
  EXPECT_EQ(macs.size(), 16u);
  EXPECT_EQ(ips.size(), 16u);
  EXPECT_EQ(ports.size(), 16u);
}

TEST(PerfFrame, MacParsingAndSwap) {
  EXPECT_EQ(parse_mac("02:aa:bb:cc:dd:0f"), (Mac{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x0f}));
  EXPECT_FALSE(parse_mac("02:aa:bb:cc:dd"));
  EXPECT_FALSE(parse_mac("02:aa:bb:cc:dd:0f:11"));
  EXPECT_FALSE(parse_mac("02:aa:bb:cc:dd:100"));
  EXPECT_EQ(format_mac(Mac{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x0f}), "02:aa:bb:cc:dd:0f");
  FrameBuilder fb(kSrc, kDst, 1, 64);
  auto f = build(fb, 0, 1);
  swap_macs(f.data());
  EXPECT_TRUE(std::equal(kSrc.begin(), kSrc.end(), f.begin()));
  EXPECT_TRUE(std::equal(kDst.begin(), kDst.end(), f.begin() + 6));
}

TEST(PerfReport, ResultLineJsonAndPercentiles) {
  Figures fig;
  fig.add("mode", std::string("tx"));
  fig.add("pps", 1.5);
  fig.add("lost", uint64_t{3});
  EXPECT_EQ(fig.result_line(), "RESULT mode=tx pps=1.5000 lost=3");
  EXPECT_EQ(fig.json(), R"({"mode":"tx","pps":1.5,"lost":3})");
  std::vector<uint64_t> v;
  for (uint64_t i = 1; i <= 1000; ++i) v.push_back(i);
  EXPECT_EQ(percentile(v, 50), 500u);
  EXPECT_EQ(percentile(v, 99), 990u);
  EXPECT_EQ(percentile(v, 99.9), 999u);
  EXPECT_EQ(percentile({}, 50), 0u);
}

}  // namespace
}  // namespace vnet::perf
