// Ethernet addresses as the switch handles them: 48-bit integers (cheap to hash and compare).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vnet::sw {

using Mac = uint64_t;  // low 48 bits, first octet most significant

inline Mac mac_from_bytes(const uint8_t* b) {
  return (uint64_t{b[0]} << 40) | (uint64_t{b[1]} << 32) | (uint64_t{b[2]} << 24) |
         (uint64_t{b[3]} << 16) | (uint64_t{b[4]} << 8) | uint64_t{b[5]};
}
inline void mac_to_bytes(Mac m, uint8_t* b) {
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(m >> (40 - 8 * i));
}
// Group bit (I/G) of the first octet: broadcast and multicast.
inline bool mac_is_multicast(Mac m) { return (m >> 40) & 1; }

std::string mac_to_string(Mac m);                              // "02:00:00:00:00:01"
std::optional<Mac> mac_from_string(std::string_view s);

}  // namespace vnet::sw
