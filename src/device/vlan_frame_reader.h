// Reads a packet's frame as the destination must see it: unchanged, with an 802.1Q tag pushed
// after the MAC addresses, or with the tag at bytes 12..15 popped. The edit happens while
// copying (no second copy): the frame is read as up to three pieces
//   [0, 12) | 4 tag bytes (push) | [12, len) or [16, len) (pop)
// and copy_to() continues where the previous call stopped, so one frame can fill several
// guest buffers.
#pragma once

#include <cstdint>

#include "dataplane/packet.h"
#include "device/span_cursor.h"

namespace vnet::device {

class VlanFrameReader {
 public:
  VlanFrameReader(const dataplane::Packet& p, dataplane::VlanEdit edit, uint16_t vid)
      : src_(p.spans, p.nspans, p.offset) {
    using dataplane::VlanEdit;
    constexpr uint32_t kMacs = 12;
    if (edit == VlanEdit::push && p.len >= kMacs) {
      head_ = kMacs;
      tag_len_ = 4;
      tag_[0] = 0x81;  // TPID 0x8100, PCP 0, DEI 0, then the 12-bit VID, network order
      tag_[1] = 0x00;
      tag_[2] = static_cast<uint8_t>((vid >> 8) & 0x0f);
      tag_[3] = static_cast<uint8_t>(vid);
      tail_ = p.len - kMacs;
    } else if (edit == VlanEdit::pop && p.len >= kMacs + 4) {
      head_ = kMacs;
      skip_ = 4;
      tail_ = p.len - kMacs - 4;
    } else {
      head_ = p.len;  // no edit (or a frame too short to carry the tag: copied as is)
    }
    out_len_ = head_ + tag_len_ + tail_;
  }

  // Frame bytes the destination receives.
  uint32_t out_len() const { return out_len_; }
  bool done() const { return head_ + tag_len_ + tail_ == 0; }
  // The source spans held fewer bytes than the packet's len (a malformed source packet).
  bool source_short() const { return source_short_; }

  // Copies as much of the rest of the frame as fits at dst; returns the bytes written.
  uint32_t copy_to(SpanCursor& dst) {
    uint32_t n = 0;
    if (head_) {
      const uint32_t k = dst.copy_from(src_, head_);
      head_ -= k;
      n += k;
      if (head_) return stop(dst, n);
    }
    if (tag_len_) {
      const uint32_t k = dst.write(tag_ + (4 - tag_len_), tag_len_);
      tag_len_ -= k;
      n += k;
      if (tag_len_) return n;
    }
    if (skip_) skip_ -= src_.skip(skip_);
    if (tail_) {
      const uint32_t k = dst.copy_from(src_, tail_);
      tail_ -= k;
      n += k;
      if (tail_) return stop(dst, n);
    }
    return n;
  }

 private:
  // Stopped before the frame's end: fine if dst is full, a short source otherwise.
  uint32_t stop(const SpanCursor& dst, uint32_t n) {
    if (!dst.at_end()) source_short_ = true;
    return n;
  }

  SpanCursor src_;
  uint32_t head_ = 0;     // source bytes still to copy before the tag position
  uint32_t tag_len_ = 0;  // tag bytes still to write (push)
  uint32_t skip_ = 0;     // source bytes still to drop (pop)
  uint32_t tail_ = 0;     // source bytes still to copy after it
  uint32_t out_len_ = 0;
  uint8_t tag_[4] = {};
  bool source_short_ = false;
};

}  // namespace vnet::device
