#include "apps/vnet_perf/frame_format.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

namespace vnet::perf {
namespace {

// The payload after the perf header is pattern[(seq + i) & 0xff ...]: one memcpy / memcmp.
struct Pattern {
  std::array<uint8_t, kMaxFrame + 256> bytes;
  Pattern() {
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 131 + 7);
  }
};
const Pattern& pattern() {
  static const Pattern p;
  return p;
}
const uint8_t* pattern_for(uint64_t seq) { return pattern().bytes.data() + (seq & 0xff); }

uint16_t ip_checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void put16(uint8_t* p, uint16_t v) { p[0] = static_cast<uint8_t>(v >> 8), p[1] = static_cast<uint8_t>(v); }

}  // namespace

std::optional<Mac> parse_mac(const std::string& s) {
  Mac m{};
  unsigned v[6];
  char extra;
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &extra) != 6) return std::nullopt;
  for (int i = 0; i < 6; ++i) {
    if (v[i] > 0xff) return std::nullopt;
    m[i] = static_cast<uint8_t>(v[i]);
  }
  return m;
}

std::string format_mac(const Mac& m) {
  char b[18];
  std::snprintf(b, sizeof(b), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return b;
}

FrameBuilder::FrameBuilder(const Mac& src, const Mac& dst, uint32_t flows, uint32_t frame_len)
    : len_(frame_len), templates_(flows == 0 ? 1 : flows) {
  for (uint32_t f = 0; f < templates_.size(); ++f) {
    uint8_t* t = templates_[f].data();
    Mac s = src;
    // Flow f: source MAC, IP and port move together; the destination stays the peer.
    s[4] = static_cast<uint8_t>(s[4] + (f >> 8));
    s[5] = static_cast<uint8_t>(s[5] + f);
    std::memcpy(t, dst.data(), 6);
    std::memcpy(t + 6, s.data(), 6);
    put16(t + 12, 0x0800);
    uint8_t* ip = t + kEthLen;
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, static_cast<uint16_t>(frame_len - kEthLen));
    put16(ip + 4, 0);
    put16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = 17;  // UDP
    put16(ip + 10, 0);
    const uint32_t sip = (10u << 24) | (1u << 16) | ((f >> 8) & 0xff) << 8 | (f & 0xff);
    const uint32_t dip = (10u << 24) | (2u << 16) | 1;
    put16(ip + 12, static_cast<uint16_t>(sip >> 16));
    put16(ip + 14, static_cast<uint16_t>(sip));
    put16(ip + 16, static_cast<uint16_t>(dip >> 16));
    put16(ip + 18, static_cast<uint16_t>(dip));
    put16(ip + 10, ip_checksum(ip, kIpLen));
    uint8_t* udp = ip + kIpLen;
    put16(udp, static_cast<uint16_t>(1024 + f % 50000));
    put16(udp + 2, 9);  // discard
    put16(udp + 4, static_cast<uint16_t>(frame_len - kEthLen - kIpLen));
    put16(udp + 6, 0);  // no UDP checksum (allowed over IPv4)
  }
}

void FrameBuilder::build(uint8_t* dst, uint16_t stream, uint64_t seq, uint64_t tx_ns) const {
  std::memcpy(dst, templates_[seq % templates_.size()].data(), kL2L4Len);
  uint8_t* p = dst + kL2L4Len;
  const uint64_t ss = (uint64_t{stream} << 48) | (seq & kSeqMask);
  std::memcpy(p, &kPerfMagic, 2);
  std::memcpy(p + 2, &ss, 8);
  std::memcpy(p + 10, &tx_ns, 8);
  std::memcpy(p + kPerfHdrLen, pattern_for(seq), len_ - kMinFrame);
}

bool read_perf_header(std::span<const uint8_t> f, PerfHeader& h) {
  if (f.size() < kMinFrame || f[12] != 0x08 || f[13] != 0x00 || f[kEthLen + 9] != 17) return false;
  const uint8_t* p = f.data() + kL2L4Len;
  uint16_t magic;
  std::memcpy(&magic, p, 2);
  if (magic != kPerfMagic) return false;
  uint64_t ss;
  std::memcpy(&ss, p + 2, 8);
  std::memcpy(&h.tx_ns, p + 10, 8);
  h.stream = static_cast<uint16_t>(ss >> 48);
  h.seq = ss & kSeqMask;
  return true;
}

CheckResult check_frame(std::span<const uint8_t> f, PerfHeader& h) {
  if (!read_perf_header(f, h)) return CheckResult::foreign;
  if (f.size() > kMaxFrame) return CheckResult::corrupt;
  const uint8_t* ip = f.data() + kEthLen;
  const uint16_t ip_len = static_cast<uint16_t>(ip[2] << 8 | ip[3]);
  if (ip_len != f.size() - kEthLen || ip_checksum(ip, kIpLen) != 0) return CheckResult::corrupt;
  if (std::memcmp(f.data() + kMinFrame, pattern_for(h.seq), f.size() - kMinFrame) != 0) return CheckResult::corrupt;
  return CheckResult::ok;
}

void swap_macs(uint8_t* f) {
  uint8_t t[6];
  std::memcpy(t, f, 6);
  std::memcpy(f, f + 6, 6);
  std::memcpy(f + 6, t, 6);
}

}  // namespace vnet::perf
