// Building and parsing the few frames the tap tests speak themselves (ARP, ICMP echo over
// IPv4), so that the test harness can answer and originate pings like a tiny host.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace vnet::ports::testing {

using Mac = std::array<uint8_t, 6>;
using Ip4 = std::array<uint8_t, 4>;

constexpr Mac kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

std::vector<uint8_t> arp_frame(uint16_t oper, const Mac& eth_dst, const Mac& sha, const Ip4& spa,
                               const Mac& tha, const Ip4& tpa);
std::vector<uint8_t> icmp_echo_frame(uint8_t type, const Mac& dst, const Mac& src, const Ip4& sip,
                                     const Ip4& dip, uint16_t id, uint16_t seq,
                                     std::span<const uint8_t> payload);

struct ArpInfo {
  uint16_t oper;
  Mac sha;
  Ip4 spa;
  Ip4 tpa;
};
struct IcmpInfo {
  Mac src, dst;
  Ip4 sip, dip;
  uint8_t type;
  uint16_t id, seq;
  std::span<const uint8_t> payload;
  bool checksums_ok;
};

std::optional<ArpInfo> parse_arp(std::span<const uint8_t> frame);
std::optional<IcmpInfo> parse_icmp(std::span<const uint8_t> frame);

uint16_t inet_checksum(std::span<const uint8_t> data);

}  // namespace vnet::ports::testing
