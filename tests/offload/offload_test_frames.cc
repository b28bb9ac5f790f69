#include "offload_test_frames.h"

#include <cstring>

namespace vnet::offload::testing {
namespace {

void put16(std::vector<uint8_t>& v, size_t at, uint16_t x) {
  v[at] = static_cast<uint8_t>(x >> 8);
  v[at + 1] = static_cast<uint8_t>(x);
}
void put32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  put16(v, at, static_cast<uint16_t>(x >> 16));
  put16(v, at + 2, static_cast<uint16_t>(x));
}

uint32_t sum_words(const uint8_t* p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) s += (uint32_t{p[i]} << 8) | p[i + 1];
  if (n & 1) s += uint32_t{p[n - 1]} << 8;
  return s;
}
uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

uint32_t pseudo(const uint8_t* f, uint32_t l3, uint32_t n, bool ipv6, uint8_t proto) {
  uint32_t s = ipv6 ? sum_words(f + l3 + 8, 32) : sum_words(f + l3 + 12, 8);
  return s + proto + (n >> 16) + (n & 0xffff);
}

}  // namespace

Built build_frame(const FrameSpec& s) {
  Built b;
  auto& v = b.bytes;
  const uint32_t l2 = s.vlan ? 18 : 14;
  const uint32_t ip = s.ipv6 ? 40 : 20 + s.ip_options;
  const uint32_t l4h = s.udp ? 8 : 20 + s.tcp_options;
  b.l3 = l2;
  b.l4 = l2 + ip;
  b.headers = b.l4 + l4h;
  v.assign(b.headers + s.payload, 0);
  const uint8_t dst[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56}, src[6] = {0x52, 0x54, 0, 0xab, 0xcd, 0xef};
  std::memcpy(&v[0], dst, 6);
  std::memcpy(&v[6], src, 6);
  if (s.vlan) {
    put16(v, 12, 0x8100);
    put16(v, 14, 0x2064);  // PCP 1, VID 100
  }
  put16(v, l2 - 2, s.ipv6 ? 0x86dd : 0x0800);
  const uint8_t proto = s.udp ? 17 : 6;
  const uint32_t l4_len = l4h + s.payload;
  if (s.ipv6) {
    v[l2] = 0x60;
    v[l2 + 1] = 0x0a;  // traffic class / flow label bits, must survive
    put16(v, l2 + 4, static_cast<uint16_t>(l4_len));
    v[l2 + 6] = proto;
    v[l2 + 7] = 64;
    for (int i = 0; i < 16; ++i) {
      v[l2 + 8 + i] = static_cast<uint8_t>(0x20 + i);
      v[l2 + 24 + i] = static_cast<uint8_t>(0x90 + 3 * i);
    }
  } else {
    v[l2] = static_cast<uint8_t>(0x40 | (ip / 4));
    v[l2 + 1] = 0x02;  // ECN bits in TOS
    put16(v, l2 + 2, static_cast<uint16_t>(ip + l4_len));
    put16(v, l2 + 4, s.ip_id);
    put16(v, l2 + 6, s.df ? 0x4000 : 0);
    v[l2 + 8] = 64;
    v[l2 + 9] = proto;
    put32(v, l2 + 12, 0x0a000001);
    put32(v, l2 + 16, 0x0a0000fe);
    for (uint32_t i = 20; i < ip; ++i) v[l2 + i] = 1;  // NOP options
    put16(v, l2 + 10, static_cast<uint16_t>(~fold(sum_words(&v[l2], ip))));
  }
  const uint32_t l4 = b.l4;
  put16(v, l4, 40000);
  put16(v, l4 + 2, 5201);
  if (s.udp) {
    put16(v, l4 + 4, static_cast<uint16_t>(l4_len));
  } else {
    put32(v, l4 + 4, s.seq);
    put32(v, l4 + 8, 0x55667788);
    v[l4 + 12] = static_cast<uint8_t>((l4h / 4) << 4);
    v[l4 + 13] = s.tcp_flags;
    put16(v, l4 + 14, 0xfaf0);
    for (uint32_t i = 20; i < l4h; ++i) v[l4 + i] = static_cast<uint8_t>(i == 20 ? 1 : 8);  // NOP then junk kinds
  }
  for (uint32_t i = 0; i < s.payload; ++i) v[b.headers + i] = static_cast<uint8_t>(i * 31 + s.payload_seed + (i >> 8));
  // Partial checksum: the folded pseudo-header sum, not complemented (what Linux leaves).
  const uint16_t p = fold(pseudo(v.data(), l2, l4_len, s.ipv6, proto));
  put16(v, l4 + (s.udp ? 6 : 16), p);
  return b;
}

virtio::NetHdr gso_header(const Built& b, const FrameSpec& s, uint8_t gso_type, uint16_t gso_size) {
  virtio::NetHdr h{};
  h.flags = virtio::kNetHdrFNeedsCsum;
  h.gso_type = gso_type;
  h.gso_size = gso_size;
  h.hdr_len = static_cast<uint16_t>(b.headers);
  h.csum_start = static_cast<uint16_t>(b.l4);
  h.csum_offset = s.udp ? 6 : 16;
  return h;
}

virtio::NetHdr csum_header(const Built& b, const FrameSpec& s) {
  virtio::NetHdr h{};
  h.flags = virtio::kNetHdrFNeedsCsum;
  h.csum_start = static_cast<uint16_t>(b.l4);
  h.csum_offset = s.udp ? 6 : 16;
  return h;
}

uint16_t rfc1071(const std::vector<uint8_t>& bytes) {
  return static_cast<uint16_t>(~fold(sum_words(bytes.data(), bytes.size())));
}

uint16_t l4_verify(const uint8_t* f, uint32_t l3, uint32_t l4, uint32_t n, bool ipv6, uint8_t proto) {
  return static_cast<uint16_t>(~fold(pseudo(f, l3, n, ipv6, proto) + sum_words(f + l4, n)));
}

ScatteredFrame::ScatteredFrame(const std::vector<uint8_t>& frame, const std::vector<uint32_t>& sizes, uint32_t lead)
    : lead_(lead), len_(static_cast<uint32_t>(frame.size())) {
  size_t pos = 0;
  size_t k = 0;
  bool first = true;
  while (pos < frame.size() || first) {
    uint32_t n = sizes[k++ % sizes.size()];
    if (n == 0) n = 1;
    n = static_cast<uint32_t>(std::min<size_t>(n, frame.size() - pos));
    const uint32_t pre = first ? lead : 0;
    auto block = std::make_unique<uint8_t[]>(pre + n + (n == 0 ? 1 : 0));
    std::memset(block.get(), 0xee, pre);
    if (n) std::memcpy(block.get() + pre, frame.data() + pos, n);
    spans_.push_back(HostSpan{block.get(), pre + n});
    blocks_.push_back(std::move(block));
    pos += n;
    first = false;
  }
}

}  // namespace vnet::offload::testing
