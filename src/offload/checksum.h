// Checksum completion for NEEDS_CSUM frames (VIRTIO 1.2 5.1.6.2: "the checksum is computed from
// csum_start to the end of the packet and stored at csum_start + csum_offset"). The 16-bit field
// already holds the pseudo-header sum the sender put there; it is summed with everything else,
// exactly as Linux's skb_checksum_help does, and a result of 0 is stored as 0xffff (the same in
// ones' complement, and the only legal form for UDP).
//
// The device copies each frame once (into a guest's RX buffers or a tap writev), so completion
// is split: compute_checksum_patch() reads the source bytes once and says which 2 bytes to
// write where, and the copier writes them while copying (apply_patch per copied chunk, or
// splice_patch to build an iovec list that takes those 2 bytes from a scratch buffer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "offload/frame_view.h"
#include "virtio/net_hdr.h"

namespace vnet::offload {

struct ChecksumPatch {
  uint32_t offset = 0;  // frame position of the checksum field (csum_start + csum_offset)
  uint8_t bytes[2]{};   // the value for that field, in frame (network) byte order
};

// nullopt when the header does not ask for completion (no NEEDS_CSUM) or its csum fields do not
// fit the frame (validate() refuses those first; this check only keeps a careless caller safe),
// or when the spans hold fewer bytes than frame.len.
std::optional<ChecksumPatch> compute_checksum_patch(const virtio::NetHdr& hdr, const FrameView& frame);

// Writes the patch bytes that fall inside a chunk just copied: `chunk` holds frame bytes
// [chunk_pos, chunk_pos + chunk_len). Handles the field straddling two chunks.
inline void apply_patch(const ChecksumPatch& p, uint32_t chunk_pos, uint8_t* chunk, uint32_t chunk_len) {
  for (uint32_t i = 0; i < 2; ++i) {
    const uint32_t at = p.offset + i;
    if (at >= chunk_pos && at - chunk_pos < chunk_len) chunk[at - chunk_pos] = p.bytes[i];
  }
}

// Builds in out[0..max) a span list of the frame in which the 2 checksum bytes come from
// `scratch` (which receives p.bytes and must outlive the use of the list). Returns the number of
// spans, 0 when out is too small or the frame's spans end early. For a tap writev without
// touching guest memory.
size_t splice_patch(const FrameView& frame, const ChecksumPatch& p, uint8_t scratch[2], HostSpan* out, size_t max);

// In-place completion over a contiguous frame (tests, pooled tap buffers). Returns false (frame
// untouched) when the header does not ask for it or its fields do not fit len.
bool complete_checksum(const virtio::NetHdr& hdr, uint8_t* frame, uint32_t len);

}  // namespace vnet::offload
