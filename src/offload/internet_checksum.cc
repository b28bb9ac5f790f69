#include "offload/internet_checksum.h"

#include <bit>
#include <cstring>

namespace vnet::offload {

namespace {

// a + b with the carry folded back in (ones'-complement addition on 64-bit words).
inline uint64_t add_eac(uint64_t a, uint64_t b) {
  const uint64_t s = a + b;
  return s + (s < b);
}

}  // namespace

// The bulk is summed as native-endian 64-bit words with end-around carry, in two independent
// chains (carries counted separately so each chain is one add and one compare per word); the
// tail as 16-bit words. Folding a 64-bit ones'-complement sum to 16 bits keeps it modulo
// 0xffff, and the byte order is fixed once at the end: the ones'-complement sum commutes with
// byte swapping (RFC 1071 section 2(B)).
uint16_t ones_sum(const uint8_t* p, size_t n) {
  uint64_t a0 = 0, a1 = 0, c0 = 0, c1 = 0;
  while (n >= 32) {
    uint64_t w[4];
    std::memcpy(w, p, 32);
    a0 += w[0];
    c0 += a0 < w[0];
    a1 += w[1];
    c1 += a1 < w[1];
    a0 += w[2];
    c0 += a0 < w[2];
    a1 += w[3];
    c1 += a1 < w[3];
    p += 32;
    n -= 32;
  }
  uint64_t acc = add_eac(add_eac(a0, a1), add_eac(c0, c1));
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    acc = add_eac(acc, w);
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;  // at most 3 words and a byte: no overflow
  while (n >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    tail += w;
    p += 2;
    n -= 2;
  }
  if (n) {
    // The odd last byte is the first byte of a zero-padded word, in memory order.
    const uint8_t last[2] = {p[0], 0};
    uint16_t w;
    std::memcpy(&w, last, 2);
    tail += w;
  }
  acc = add_eac(acc, tail);
  acc = (acc & 0xffffffff) + (acc >> 32);
  acc = (acc & 0xffffffff) + (acc >> 32);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  auto s = static_cast<uint16_t>(acc);
  if constexpr (std::endian::native == std::endian::little) s = swap16(s);
  return s;
}

}  // namespace vnet::offload
