// Turns one TxItem into the iovec list of a single writev() to a tap fd: the 12-byte
// virtio_net_hdr, then the frame bytes straight from the source Packet's spans, with the VLAN
// edit applied by splitting the list around bytes 12..16 (no frame byte is copied).
#pragma once

#include <sys/uio.h>

#include <cstdint>

#include "dataplane/packet.h"
#include "virtio/net_hdr.h"

namespace vnet::ports {

constexpr uint32_t kTapVnetHdrSize = 12;  // TUNSETVNETHDRSZ: header with num_buffers
constexpr uint32_t kVlanTagSize = 4;
constexpr uint32_t kMacPairSize = 12;  // dst + src MAC: where a tag goes

enum class FrameIovStatus : uint8_t {
  ok,
  short_spans,     // the spans hold fewer than offset + len bytes
  too_many_spans,  // more iovecs than the scratch holds
  runt,            // too short for the requested VLAN edit (or for an Ethernet header)
};

// Per-call scratch for a frame that is being written: the header and the inserted tag live
// here while the writev runs. Owned by the transmitting queue; reused for every frame.
struct FrameScratch {
  virtio::NetHdr hdr;
  uint8_t tag[kVlanTagSize];
};

// Fills iov[0..*count) for `item` (iov[0] is the header in scratch). The header is the
// packet's offload metadata as given, with num_buffers 0 and, when a tag is pushed or popped,
// csum_start/hdr_len moved by the 4 bytes so that they still point at the same bytes.
FrameIovStatus build_frame_iov(const dataplane::TxItem& item, FrameScratch& scratch, iovec* iov,
                               uint32_t max_iov, uint32_t* count, uint32_t* frame_len);

}  // namespace vnet::ports
