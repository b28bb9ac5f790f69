#include "ports/tap_frame_iov.h"

#include <cstring>

namespace vnet::ports {
namespace {

// Appends frame bytes [from, to) of `p` (frame offsets, i.e. after p.offset) to the iovec list.
// Walks the spans from the start each time: a packet has a handful of spans and a frame needs
// at most two ranges, so this stays cheaper than carrying a cursor around.
FrameIovStatus append_range(const dataplane::Packet& p, uint64_t from, uint64_t to, iovec* iov,
                            uint32_t max_iov, uint32_t& n) {
  uint64_t pos = 0;  // offset in the concatenated spans of the current span's first byte
  uint64_t want_from = p.offset + from;
  uint64_t want_to = p.offset + to;
  for (uint16_t i = 0; i < p.nspans && want_from < want_to; ++i) {
    const HostSpan& s = p.spans[i];
    uint64_t end = pos + s.len;
    if (end > want_from && s.len > 0) {
      uint64_t lo = want_from - pos;
      uint64_t hi = (want_to < end ? want_to : end) - pos;
      if (n == max_iov) return FrameIovStatus::too_many_spans;
      iov[n].iov_base = s.data + lo;
      iov[n].iov_len = hi - lo;
      ++n;
      want_from = pos + hi;
    }
    pos = end;
  }
  return want_from < want_to ? FrameIovStatus::short_spans : FrameIovStatus::ok;
}

uint16_t shift(uint16_t v, int delta) { return static_cast<uint16_t>(static_cast<int>(v) + delta); }

}  // namespace

FrameIovStatus build_frame_iov(const dataplane::TxItem& item, FrameScratch& scratch, iovec* iov,
                               uint32_t max_iov, uint32_t* count, uint32_t* frame_len) {
  const dataplane::Packet& p = *item.pkt;
  *count = 0;
  if (max_iov < 1) return FrameIovStatus::too_many_spans;
  if (p.len < kMacPairSize + 2) return FrameIovStatus::runt;

  scratch.hdr = p.hdr;
  scratch.hdr.num_buffers = 0;
  iov[0].iov_base = &scratch.hdr;
  iov[0].iov_len = kTapVnetHdrSize;
  uint32_t n = 1;
  FrameIovStatus st;

  // Offsets in the header count from the frame start, so a tag inserted or removed in front
  // of the L3 header moves them; only touch them when they are meaningful (flag / gso set).
  const bool csum = (p.hdr.flags & virtio::kNetHdrFNeedsCsum) != 0;
  const bool gso = (p.hdr.gso_type & ~virtio::kNetHdrGsoEcn) != virtio::kNetHdrGsoNone;

  switch (item.edit) {
    case dataplane::VlanEdit::push: {
      const uint16_t tci = item.vid & 0x0fff;
      scratch.tag[0] = 0x81;
      scratch.tag[1] = 0x00;
      scratch.tag[2] = static_cast<uint8_t>(tci >> 8);
      scratch.tag[3] = static_cast<uint8_t>(tci & 0xff);
      if ((st = append_range(p, 0, kMacPairSize, iov, max_iov, n)) != FrameIovStatus::ok) return st;
      if (n == max_iov) return FrameIovStatus::too_many_spans;
      iov[n].iov_base = scratch.tag;
      iov[n].iov_len = kVlanTagSize;
      ++n;
      if ((st = append_range(p, kMacPairSize, p.len, iov, max_iov, n)) != FrameIovStatus::ok) return st;
      if (csum) scratch.hdr.csum_start = shift(scratch.hdr.csum_start, kVlanTagSize);
      if (gso) scratch.hdr.hdr_len = shift(scratch.hdr.hdr_len, kVlanTagSize);
      *frame_len = p.len + kVlanTagSize;
      break;
    }
    case dataplane::VlanEdit::pop: {
      // Only a frame that carries a tag loses one; popping an untagged frame is a no-op.
      if (p.tagged) {
        if (p.len < kMacPairSize + kVlanTagSize + 2) return FrameIovStatus::runt;
        if ((st = append_range(p, 0, kMacPairSize, iov, max_iov, n)) != FrameIovStatus::ok) return st;
        if ((st = append_range(p, kMacPairSize + kVlanTagSize, p.len, iov, max_iov, n)) != FrameIovStatus::ok)
          return st;
        if (csum && scratch.hdr.csum_start >= kMacPairSize + kVlanTagSize)
          scratch.hdr.csum_start = shift(scratch.hdr.csum_start, -static_cast<int>(kVlanTagSize));
        if (gso && scratch.hdr.hdr_len >= kMacPairSize + kVlanTagSize)
          scratch.hdr.hdr_len = shift(scratch.hdr.hdr_len, -static_cast<int>(kVlanTagSize));
        *frame_len = p.len - kVlanTagSize;
        break;
      }
      [[fallthrough]];
    }
    case dataplane::VlanEdit::none:
    default:
      if ((st = append_range(p, 0, p.len, iov, max_iov, n)) != FrameIovStatus::ok) return st;
      *frame_len = p.len;
      break;
  }
  *count = n;
  return FrameIovStatus::ok;
}

}  // namespace vnet::ports
