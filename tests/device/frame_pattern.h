// Deterministic test frames: every byte depends on (seed, position) so that a misplaced,
// dropped or duplicated byte shows up in the comparison.
#pragma once

#include <cstdint>
#include <vector>

namespace vnet::device::testing {

inline std::vector<uint8_t> make_frame(uint32_t len, uint32_t seed) {
  std::vector<uint8_t> f(len);
  uint32_t x = seed * 2654435761u + len;
  for (uint32_t i = 0; i < len; ++i) {
    x = x * 1103515245u + 12345u;
    f[i] = static_cast<uint8_t>(x >> 16);
  }
  // Untagged by default: the ethertype must not look like 802.1Q.
  if (len >= 14) {
    f[12] = 0x08;
    f[13] = 0x00;
  }
  return f;
}

}  // namespace vnet::device::testing
