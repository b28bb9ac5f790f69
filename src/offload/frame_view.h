// The bytes of one frame as the offload code sees them: a span list in guest (or pooled) memory
// that the guest may rewrite while we look. Header bytes are therefore copied out once into
// locals and every decision is made on the copy; payload bytes are read once while they are
// copied or summed. Nothing is read past `len`, nor past the end of the spans if a caller
// handed fewer span bytes than `len` (then the missing bytes read as zero and the copy
// functions report how much they really got).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "dataplane/packet.h"
#include "mem/guest_memory.h"

namespace vnet::offload {

struct FrameView {
  const HostSpan* spans = nullptr;
  uint16_t nspans = 0;
  uint32_t offset = 0;  // into spans[0]
  uint32_t len = 0;     // frame bytes (Ethernet header onward)
};

inline FrameView view_of(const dataplane::Packet& p) { return FrameView{p.spans, p.nspans, p.offset, p.len}; }

// Copies frame bytes [pos, pos+n) into dst; returns the number of bytes copied (less than n
// when the frame or its spans end first). Linear in the number of spans skipped.
uint32_t copy_out(const FrameView& f, uint32_t pos, void* dst, uint32_t n);

// Calls fn(data, pos, n) for each contiguous piece of the frame in order (piece bytes
// [pos, pos+n) of the frame are at data), without copying. Stops when fn returns false.
// Returns true if every piece was visited and the spans held all `len` bytes.
template <class Fn>
bool for_each_piece(const FrameView& f, Fn&& fn) {
  uint32_t pos = 0;
  uint32_t in = f.offset;  // the initial offset may reach past spans[0]
  for (uint16_t i = 0; i < f.nspans && pos < f.len; ++i) {
    const HostSpan& s = f.spans[i];
    if (in >= s.len) {
      in -= s.len;
      continue;
    }
    const uint32_t n = std::min(s.len - in, f.len - pos);
    if (!fn(s.data + in, pos, n)) return false;
    pos += n;
    in = 0;
  }
  return pos >= f.len;
}

// A forward-only reader over a frame, for copying successive payload ranges without
// re-walking the span list each time.
class FrameReader {
 public:
  explicit FrameReader(const FrameView& f);
  // Positions the reader at frame byte `pos` (forward or backward; backward restarts the walk).
  void seek(uint32_t pos);
  // Copies up to n bytes at the current position into dst and advances; returns bytes copied.
  uint32_t read(void* dst, uint32_t n);
  uint32_t position() const { return pos_; }

 private:
  FrameView f_;
  uint32_t pos_ = 0;     // frame position
  uint16_t span_ = 0;    // current span index
  uint32_t in_span_ = 0; // offset inside spans[span_]
};

}  // namespace vnet::offload
