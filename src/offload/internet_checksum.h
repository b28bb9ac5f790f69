// The Internet checksum (RFC 1071) as a running ones'-complement sum that can be fed in pieces
// of any length starting at any byte position: a piece that starts at an odd frame position
// contributes its bytes swapped (RFC 1071 section 2(B)), so spans split at odd offsets sum the
// same as one flat buffer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vnet::offload {

// Ones'-complement sum of p[0..n) read as big-endian 16-bit words (an odd tail byte is the
// high byte of a word padded with zero), folded to 16 bits. Not complemented.
uint16_t ones_sum(const uint8_t* p, size_t n);

inline uint16_t ones_add(uint16_t a, uint16_t b) {
  const uint32_t s = uint32_t{a} + b;
  return static_cast<uint16_t>((s & 0xffff) + (s >> 16));
}

inline uint16_t swap16(uint16_t v) { return static_cast<uint16_t>((v << 8) | (v >> 8)); }

class ChecksumAccumulator {
 public:
  // Adds bytes that come next in the summed range.
  void add(const uint8_t* p, size_t n) {
    if (n == 0) return;
    const uint16_t s = ones_sum(p, n);
    sum_ = ones_add(sum_, odd_ ? swap16(s) : s);
    odd_ ^= (n & 1) != 0;
  }
  // Adds a 16-bit value (host order) as a word at an even position (pseudo-header fields).
  void add_word(uint16_t v) { sum_ = ones_add(sum_, v); }
  uint16_t sum() const { return sum_; }
  // The value to store in a checksum field: the complement of the sum (host order).
  uint16_t finish() const { return static_cast<uint16_t>(~sum_); }
  bool odd() const { return odd_; }

 private:
  uint16_t sum_ = 0;
  bool odd_ = false;
};

// Stores a host-order 16-bit value big-endian at p.
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline void store_be32(uint8_t* p, uint32_t v) {
  store_be16(p, static_cast<uint16_t>(v >> 16));
  store_be16(p + 2, static_cast<uint16_t>(v));
}
inline uint32_t load_be32(const uint8_t* p) { return (uint32_t{load_be16(p)} << 16) | load_be16(p + 2); }

}  // namespace vnet::offload
