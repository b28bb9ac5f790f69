#include "switch/mac.h"

#include <fmt/format.h>

namespace vnet::sw {

std::string mac_to_string(Mac m) {
  uint8_t b[6];
  mac_to_bytes(m, b);
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5]);
}

std::optional<Mac> mac_from_string(std::string_view s) {
  if (s.size() != 17) return std::nullopt;
  Mac m = 0;
  for (int i = 0; i < 6; ++i) {
    if (i > 0 && s[i * 3 - 1] != ':') return std::nullopt;
    unsigned v = 0;
    for (int j = 0; j < 2; ++j) {
      const char c = s[i * 3 + j];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else return std::nullopt;
    }
    m = (m << 8) | v;
  }
  return m;
}

}  // namespace vnet::sw
