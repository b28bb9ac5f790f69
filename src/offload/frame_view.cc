#include "offload/frame_view.h"

#include <algorithm>

namespace vnet::offload {

uint32_t copy_out(const FrameView& f, uint32_t pos, void* dst, uint32_t n) {
  FrameReader r(f);
  r.seek(pos);
  return r.read(dst, n);
}

FrameReader::FrameReader(const FrameView& f) : f_(f) { seek(0); }

void FrameReader::seek(uint32_t pos) {
  if (pos < pos_ || pos == 0) {
    pos_ = 0;
    span_ = 0;
    in_span_ = f_.offset;
  }
  // Skip whole spans (and the initial offset may itself exceed spans[0]).
  uint32_t skip = pos - pos_;
  while (span_ < f_.nspans) {
    const uint32_t avail = f_.spans[span_].len > in_span_ ? f_.spans[span_].len - in_span_ : 0;
    if (skip < avail) {
      in_span_ += skip;
      pos_ += skip;
      return;
    }
    skip -= avail;
    pos_ += avail;
    in_span_ = in_span_ > f_.spans[span_].len ? in_span_ - f_.spans[span_].len : 0;
    ++span_;
  }
  pos_ += skip;  // past the spans: reads return nothing
}

uint32_t FrameReader::read(void* dst, uint32_t n) {
  auto* out = static_cast<uint8_t*>(dst);
  n = pos_ < f_.len ? std::min(n, f_.len - pos_) : 0;
  uint32_t done = 0;
  while (done < n && span_ < f_.nspans) {
    const HostSpan& s = f_.spans[span_];
    if (in_span_ >= s.len) {
      in_span_ -= s.len;
      ++span_;
      continue;
    }
    const uint32_t k = std::min(n - done, s.len - in_span_);
    std::memcpy(out + done, s.data + in_span_, k);
    done += k;
    in_span_ += k;
    pos_ += k;
  }
  return done;
}

}  // namespace vnet::offload
