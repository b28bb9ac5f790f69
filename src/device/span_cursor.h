// A read or write position inside a list of host spans (a chain's readable or writable part, a
// packet's frame), and the byte copies the TX and RX paths make through it. Guest memory is
// read and written with plain memcpy: the bytes are untrusted but their bounds are not (they
// come from our own translation), and a guest changing them concurrently only garbles its own
// frame.
#pragma once

#include <cstdint>
#include <cstring>

#include "mem/guest_memory.h"

namespace vnet::device {

class SpanCursor {
 public:
  SpanCursor() = default;
  SpanCursor(const HostSpan* spans, uint32_t nspans, uint32_t offset = 0) : spans_(spans), n_(nspans), off_(offset) {
    normalize();
  }

  // Current span index and the offset inside it (the start of the unread/unwritten bytes).
  uint32_t index() const { return i_; }
  uint32_t offset() const { return off_; }
  bool at_end() const { return i_ >= n_; }

  // Copies up to n bytes out of the spans into p; returns the number copied.
  uint32_t read(void* p, uint32_t n) {
    auto* dst = static_cast<uint8_t*>(p);
    uint32_t done = 0;
    while (done < n && !at_end()) {
      const uint32_t k = chunk(n - done);
      std::memcpy(dst + done, spans_[i_].data + off_, k);
      advance(k);
      done += k;
    }
    return done;
  }
  // Copies up to n bytes from p into the spans; returns the number copied.
  uint32_t write(const void* p, uint32_t n) {
    const auto* src = static_cast<const uint8_t*>(p);
    uint32_t done = 0;
    while (done < n && !at_end()) {
      const uint32_t k = chunk(n - done);
      std::memcpy(spans_[i_].data + off_, src + done, k);
      advance(k);
      done += k;
    }
    return done;
  }
  // Skips up to n bytes; returns the number skipped.
  uint32_t skip(uint32_t n) {
    uint32_t done = 0;
    while (done < n && !at_end()) {
      const uint32_t k = chunk(n - done);
      advance(k);
      done += k;
    }
    return done;
  }
  // Copies up to n bytes from src into *this (span to span, no bounce buffer); returns the
  // number copied (less than n if either side runs out).
  uint32_t copy_from(SpanCursor& src, uint32_t n) {
    uint32_t done = 0;
    while (done < n && !at_end() && !src.at_end()) {
      const uint32_t k = src.chunk(chunk(n - done));
      std::memcpy(spans_[i_].data + off_, src.spans_[src.i_].data + src.off_, k);
      advance(k);
      src.advance(k);
      done += k;
    }
    return done;
  }

 private:
  // Bytes available in the current span, capped at want.
  uint32_t chunk(uint32_t want) const {
    const uint32_t left = spans_[i_].len - off_;
    return left < want ? left : want;
  }
  void advance(uint32_t k) {
    off_ += k;
    normalize();
  }
  // Moves past exhausted (and empty) spans so that a non-end cursor always has a byte to use.
  void normalize() {
    while (i_ < n_ && off_ >= spans_[i_].len) {
      off_ -= spans_[i_].len;
      ++i_;
    }
  }

  const HostSpan* spans_ = nullptr;
  uint32_t n_ = 0;
  uint32_t i_ = 0;
  uint32_t off_ = 0;
};

}  // namespace vnet::device
