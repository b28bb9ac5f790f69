#include "tap_test_frames.h"

#include <cstring>

namespace vnet::ports::testing {
namespace {

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

void eth(std::vector<uint8_t>& f, const Mac& dst, const Mac& src, uint16_t type) {
  f.insert(f.end(), dst.begin(), dst.end());
  f.insert(f.end(), src.begin(), src.end());
  f.resize(14);
  put16(&f[12], type);
}

}  // namespace

uint16_t inet_checksum(std::span<const uint8_t> d) {
  uint32_t sum = 0;
  size_t i = 0;
  for (; i + 1 < d.size(); i += 2) sum += get16(&d[i]);
  if (i < d.size()) sum += static_cast<uint32_t>(d[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

std::vector<uint8_t> arp_frame(uint16_t oper, const Mac& eth_dst, const Mac& sha, const Ip4& spa,
                               const Mac& tha, const Ip4& tpa) {
  std::vector<uint8_t> f;
  eth(f, eth_dst, sha, 0x0806);
  f.resize(14 + 28);
  uint8_t* a = &f[14];
  put16(a, 1);
  put16(a + 2, 0x0800);
  a[4] = 6;
  a[5] = 4;
  put16(a + 6, oper);
  std::memcpy(a + 8, sha.data(), 6);
  std::memcpy(a + 14, spa.data(), 4);
  std::memcpy(a + 18, tha.data(), 6);
  std::memcpy(a + 24, tpa.data(), 4);
  f.resize(60, 0);  // minimum Ethernet payload
  return f;
}

std::vector<uint8_t> icmp_echo_frame(uint8_t type, const Mac& dst, const Mac& src, const Ip4& sip,
                                     const Ip4& dip, uint16_t id, uint16_t seq,
                                     std::span<const uint8_t> payload) {
  std::vector<uint8_t> f;
  eth(f, dst, src, 0x0800);
  const size_t ip_len = 20 + 8 + payload.size();
  f.resize(14 + ip_len, 0);
  uint8_t* ip = &f[14];
  ip[0] = 0x45;
  put16(ip + 2, static_cast<uint16_t>(ip_len));
  put16(ip + 4, seq);
  ip[8] = 64;
  ip[9] = 1;  // ICMP
  std::memcpy(ip + 12, sip.data(), 4);
  std::memcpy(ip + 16, dip.data(), 4);
  put16(ip + 10, inet_checksum({ip, 20}));
  uint8_t* icmp = ip + 20;
  icmp[0] = type;
  put16(icmp + 4, id);
  put16(icmp + 6, seq);
  if (!payload.empty()) std::memcpy(icmp + 8, payload.data(), payload.size());
  put16(icmp + 2, inet_checksum({icmp, 8 + payload.size()}));
  if (f.size() < 60) f.resize(60, 0);
  return f;
}

std::optional<ArpInfo> parse_arp(std::span<const uint8_t> f) {
  if (f.size() < 42 || get16(&f[12]) != 0x0806) return std::nullopt;
  const uint8_t* a = &f[14];
  if (get16(a) != 1 || get16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4) return std::nullopt;
  ArpInfo r{};
  r.oper = get16(a + 6);
  std::memcpy(r.sha.data(), a + 8, 6);
  std::memcpy(r.spa.data(), a + 14, 4);
  std::memcpy(r.tpa.data(), a + 24, 4);
  return r;
}

std::optional<IcmpInfo> parse_icmp(std::span<const uint8_t> f) {
  if (f.size() < 14 + 20 + 8 || get16(&f[12]) != 0x0800) return std::nullopt;
  const uint8_t* ip = &f[14];
  const size_t ihl = (ip[0] & 0x0f) * 4u;
  const size_t tot = get16(ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl + 8 || 14 + tot > f.size() || ip[9] != 1) return std::nullopt;
  IcmpInfo r{};
  std::memcpy(r.dst.data(), &f[0], 6);
  std::memcpy(r.src.data(), &f[6], 6);
  std::memcpy(r.sip.data(), ip + 12, 4);
  std::memcpy(r.dip.data(), ip + 16, 4);
  const uint8_t* icmp = ip + ihl;
  r.type = icmp[0];
  r.id = get16(icmp + 4);
  r.seq = get16(icmp + 6);
  r.payload = f.subspan(14 + ihl + 8, tot - ihl - 8);
  r.checksums_ok = inet_checksum({ip, ihl}) == 0 && inet_checksum({icmp, tot - ihl}) == 0;
  return r;
}

}  // namespace vnet::ports::testing
