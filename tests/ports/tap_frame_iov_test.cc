// build_frame_iov: the iovec list a tap writev gets, checked by gathering it back into bytes.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "ports/tap_frame_iov.h"

namespace vnet::ports {
namespace {

using dataplane::Packet;
using dataplane::TxItem;
using dataplane::VlanEdit;

std::vector<uint8_t> gather(const iovec* iov, uint32_t n) {
  std::vector<uint8_t> out;
  for (uint32_t i = 0; i < n; ++i) {
    auto* b = static_cast<const uint8_t*>(iov[i].iov_base);
    out.insert(out.end(), b, b + iov[i].iov_len);
  }
  return out;
}

// A frame of `len` bytes (value = index) stored behind `offset` junk bytes and cut at `cuts`.
struct Fixture {
  Fixture(uint32_t len, uint32_t offset, std::vector<uint32_t> cuts) : storage(offset + len, 0xee) {
    std::iota(storage.begin() + offset, storage.end(), uint8_t{0});
    frame.assign(storage.begin() + offset, storage.end());
    uint32_t prev = 0;
    cuts.push_back(static_cast<uint32_t>(storage.size()));
    for (uint32_t c : cuts) {
      spans.push_back(HostSpan{storage.data() + prev, c - prev});
      prev = c;
    }
    pkt.spans = spans.data();
    pkt.nspans = static_cast<uint16_t>(spans.size());
    pkt.offset = offset;
    pkt.len = len;
    pkt.tagged = len >= 16 && frame[12] == 0x81 && frame[13] == 0x00;
  }
  std::vector<uint8_t> storage, frame;
  std::vector<HostSpan> spans;
  Packet pkt;
};

struct Built {
  FrameIovStatus st;
  std::vector<uint8_t> bytes;  // header + frame as the kernel would read them
  uint32_t frame_len = 0;
  uint32_t niov = 0;
  virtio::NetHdr hdr{};
};

Built build(const Packet& p, VlanEdit edit, uint16_t vid = 0, uint32_t max_iov = 64) {
  FrameScratch scratch{};
  std::vector<iovec> iov(max_iov);
  Built b;
  b.st = build_frame_iov(TxItem{&p, edit, vid}, scratch, iov.data(), max_iov, &b.niov, &b.frame_len);
  if (b.st == FrameIovStatus::ok) {
    b.bytes = gather(iov.data(), b.niov);
    b.hdr = scratch.hdr;
  }
  return b;
}

TEST(TapFrameIov, PlainFrameAcrossSpansWithOffsetIsPassedThroughUncopied) {
  Fixture f(100, 3, {1, 10, 50});
  f.pkt.hdr.flags = virtio::kNetHdrFNeedsCsum;
  f.pkt.hdr.csum_start = 34;
  f.pkt.hdr.csum_offset = 16;
  f.pkt.hdr.num_buffers = 7;
  auto b = build(f.pkt, VlanEdit::none);
  ASSERT_EQ(b.st, FrameIovStatus::ok);
  EXPECT_EQ(b.frame_len, 100u);
  ASSERT_EQ(b.bytes.size(), 12u + 100u);
  EXPECT_EQ(std::vector<uint8_t>(b.bytes.begin() + 12, b.bytes.end()), f.frame);
  EXPECT_EQ(b.hdr.flags, virtio::kNetHdrFNeedsCsum);
  EXPECT_EQ(b.hdr.csum_start, 34);
  EXPECT_EQ(b.hdr.csum_offset, 16);
  EXPECT_EQ(b.hdr.num_buffers, 0) << "num_buffers is not ours to pass on";
  EXPECT_EQ(b.niov, 1u + 3u) << "header + the three spans that hold frame bytes (span 0 is junk only)";
}

TEST(TapFrameIov, PushInsertsTagAfterMacsAndShiftsOffloadOffsets) {
  Fixture f(64, 0, {5, 13});  // the MAC pair crosses two cuts
  f.pkt.hdr.flags = virtio::kNetHdrFNeedsCsum;
  f.pkt.hdr.gso_type = virtio::kNetHdrGsoTcpv4;
  f.pkt.hdr.csum_start = 34;
  f.pkt.hdr.hdr_len = 54;
  auto b = build(f.pkt, VlanEdit::push, 0x123);
  ASSERT_EQ(b.st, FrameIovStatus::ok);
  EXPECT_EQ(b.frame_len, 68u);
  std::vector<uint8_t> want(f.frame.begin(), f.frame.begin() + 12);
  want.insert(want.end(), {0x81, 0x00, 0x01, 0x23});
  want.insert(want.end(), f.frame.begin() + 12, f.frame.end());
  EXPECT_EQ(std::vector<uint8_t>(b.bytes.begin() + 12, b.bytes.end()), want);
  EXPECT_EQ(b.hdr.csum_start, 38);
  EXPECT_EQ(b.hdr.hdr_len, 58);
}

TEST(TapFrameIov, PushMasksVidToTwelveBits) {
  Fixture f(60, 0, {});
  auto b = build(f.pkt, VlanEdit::push, 0xf00a);
  ASSERT_EQ(b.st, FrameIovStatus::ok);
  EXPECT_EQ(b.bytes[12 + 14], 0x00);
  EXPECT_EQ(b.bytes[12 + 15], 0x0a);
}

TEST(TapFrameIov, PopRemovesTheTagOfATaggedFrame) {
  Fixture f(80, 1, {14, 15});  // cuts inside the tag
  f.storage[1 + 12] = 0x81;
  f.storage[1 + 13] = 0x00;
  f.frame[12] = 0x81;
  f.frame[13] = 0x00;
  f.pkt.tagged = true;
  f.pkt.hdr.flags = virtio::kNetHdrFNeedsCsum;
  f.pkt.hdr.csum_start = 38;
  auto b = build(f.pkt, VlanEdit::pop);
  ASSERT_EQ(b.st, FrameIovStatus::ok);
  EXPECT_EQ(b.frame_len, 76u);
  std::vector<uint8_t> want(f.frame.begin(), f.frame.begin() + 12);
  want.insert(want.end(), f.frame.begin() + 16, f.frame.end());
  EXPECT_EQ(std::vector<uint8_t>(b.bytes.begin() + 12, b.bytes.end()), want);
  EXPECT_EQ(b.hdr.csum_start, 34);
}

TEST(TapFrameIov, PopOnUntaggedFrameLeavesItAlone) {
  Fixture f(60, 0, {});
  auto b = build(f.pkt, VlanEdit::pop);
  ASSERT_EQ(b.st, FrameIovStatus::ok);
  EXPECT_EQ(b.frame_len, 60u);
  EXPECT_EQ(std::vector<uint8_t>(b.bytes.begin() + 12, b.bytes.end()), f.frame);
}

TEST(TapFrameIov, SpansShorterThanLenAreRefused) {
  Fixture f(60, 0, {20});
  f.pkt.len = 61;  // claims one byte more than the spans hold
  EXPECT_EQ(build(f.pkt, VlanEdit::none).st, FrameIovStatus::short_spans);
  EXPECT_EQ(build(f.pkt, VlanEdit::push, 5).st, FrameIovStatus::short_spans);
  f.pkt.offset = 1000;  // offset past every span
  f.pkt.len = 60;
  EXPECT_EQ(build(f.pkt, VlanEdit::none).st, FrameIovStatus::short_spans);
}

TEST(TapFrameIov, RuntsAreRefused) {
  Fixture f(13, 0, {});
  EXPECT_EQ(build(f.pkt, VlanEdit::none).st, FrameIovStatus::runt);
  Fixture g(17, 0, {});
  g.pkt.tagged = true;
  EXPECT_EQ(build(g.pkt, VlanEdit::pop).st, FrameIovStatus::runt);
}

TEST(TapFrameIov, TooManyPiecesForTheScratchAreRefused) {
  std::vector<uint32_t> cuts;
  for (uint32_t c = 1; c < 100; ++c) cuts.push_back(c);
  Fixture f(100, 0, cuts);
  EXPECT_EQ(build(f.pkt, VlanEdit::none, 0, 64).st, FrameIovStatus::too_many_spans);
  EXPECT_EQ(build(f.pkt, VlanEdit::none, 0, 101).st, FrameIovStatus::ok);
  EXPECT_EQ(build(f.pkt, VlanEdit::push, 1, 101).st, FrameIovStatus::too_many_spans);
}

TEST(TapFrameIov, ZeroLengthSpansAreSkipped) {
  Fixture f(40, 0, {0, 0, 20, 20});
  auto b = build(f.pkt, VlanEdit::none);
  ASSERT_EQ(b.st, FrameIovStatus::ok);
  EXPECT_EQ(b.niov, 3u);
  EXPECT_EQ(std::vector<uint8_t>(b.bytes.begin() + 12, b.bytes.end()), f.frame);
}

}  // namespace
}  // namespace vnet::ports
