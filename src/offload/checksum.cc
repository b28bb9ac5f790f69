#include "offload/checksum.h"

#include <algorithm>

#include "offload/internet_checksum.h"

namespace vnet::offload {
namespace {

bool fields_fit(const virtio::NetHdr& hdr, uint32_t len) {
  return (hdr.flags & virtio::kNetHdrFNeedsCsum) && hdr.csum_start < len &&
         uint32_t{hdr.csum_start} + hdr.csum_offset + 2 <= len;
}

ChecksumPatch make_patch(const virtio::NetHdr& hdr, uint16_t sum) {
  ChecksumPatch p;
  p.offset = uint32_t{hdr.csum_start} + hdr.csum_offset;
  uint16_t v = static_cast<uint16_t>(~sum);
  if (v == 0) v = 0xffff;
  store_be16(p.bytes, v);
  return p;
}

}  // namespace

std::optional<ChecksumPatch> compute_checksum_patch(const virtio::NetHdr& hdr, const FrameView& f) {
  if (!fields_fit(hdr, f.len)) return std::nullopt;
  // Walk the spans directly (no copy): each source byte is read once, by the sum.
  ChecksumAccumulator acc;
  const bool whole = for_each_piece(f, [&](const uint8_t* d, uint32_t pos, uint32_t n) {
    const uint32_t from = std::max<uint32_t>(pos, hdr.csum_start);
    if (from < pos + n) acc.add(d + (from - pos), pos + n - from);
    return true;
  });
  if (!whole) return std::nullopt;
  return make_patch(hdr, acc.sum());
}

size_t splice_patch(const FrameView& f, const ChecksumPatch& p, uint8_t scratch[2], HostSpan* out, size_t max) {
  scratch[0] = p.bytes[0];
  scratch[1] = p.bytes[1];
  size_t k = 0;
  auto emit = [&](uint8_t* data, uint32_t len) {
    if (len == 0) return true;
    if (k > 0 && out[k - 1].data + out[k - 1].len == data) {  // e.g. the two scratch bytes
      out[k - 1].len += len;
      return true;
    }
    if (k == max) return false;
    out[k++] = HostSpan{data, len};
    return true;
  };
  const bool whole = for_each_piece(f, [&](uint8_t* d, uint32_t pos, uint32_t n) {
    // Split this piece around the (up to 2) patched bytes inside it.
    uint32_t done = 0;
    for (uint32_t b = 0; b < 2; ++b) {
      const uint32_t at = p.offset + b;
      if (at < pos + done || at >= pos + n) continue;
      const uint32_t rel = at - pos;
      if (!emit(d + done, rel - done) || !emit(scratch + b, 1)) return false;
      done = rel + 1;
    }
    return emit(d + done, n - done);
  });
  return whole ? k : 0;
}

bool complete_checksum(const virtio::NetHdr& hdr, uint8_t* frame, uint32_t len) {
  if (!fields_fit(hdr, len)) return false;
  const ChecksumPatch p = make_patch(hdr, ones_sum(frame + hdr.csum_start, len - hdr.csum_start));
  frame[p.offset] = p.bytes[0];
  frame[p.offset + 1] = p.bytes[1];
  return true;
}

}  // namespace vnet::offload
