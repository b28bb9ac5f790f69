// Checks a frame's virtio_net_hdr against the frame before anything trusts it (VIRTIO 1.2
// 5.1.6.2 / 5.1.6.4). The header is in host byte order (the device converts it when it reads
// it from the ring).
//
// Strictness (documented policy, shared with Segmenter::start):
// - flags: only NEEDS_CSUM and DATA_VALID; NEEDS_CSUM wins when both are set. RSC_INFO and
//   unknown bits are refused. (A guest driver MUST NOT set DATA_VALID, but a TAP source
//   legitimately does; refusing it per source is host_features_needed()'s business.)
// - NEEDS_CSUM: csum_start < len and csum_start + csum_offset + 2 <= len. csum_start and
//   csum_offset are ignored without NEEDS_CSUM (the spec says so).
// - gso_type NONE: hdr_len and gso_size are ignored (only meaningful for GSO); the ECN bit is
//   refused.
// - gso_type set: gso_size != 0, NEEDS_CSUM set (5.1.6.2.1 MUST), the frame really is
//   Ethernet [+ one 802.1Q tag] + IPv4 (no fragment) or IPv6 (no extension header) + the
//   transport it claims, csum_start at the transport header and csum_offset at its check field
//   (as Linux insists since 6.x), segments that fit the IP length fields.
// - hdr_len is a hint (Linux recomputes it; without HOST_HDRLEN a driver MAY set it to any
//   value not less than the headers). We never use it: the real header length comes from
//   parsing. We refuse hdr_len > len (a header longer than the frame is a lie Linux's tun also
//   refuses) and 0 < hdr_len < real headers (the spec's lower bound); 0 means "not given".
//   hdr_len above the headers is fine (Linux guests send skb_headlen, which may include payload).
// - The IPv4 total length / IPv6 payload length of a GSO frame are not checked (Linux guests set
//   them for the whole super-frame, others leave them 0; every segment gets its own).
// Invariant: a frame that validates ok can be segmented (Segmenter) and checksummed for any
// destination, so a flood to mixed ports never finds out late that one copy is impossible.
#pragma once

#include <cstdint>

#include "offload/frame_view.h"
#include "offload/verdict.h"
#include "virtio/net_hdr.h"

namespace vnet::offload {

enum class L3 : uint8_t { none, ipv4, ipv6 };
enum class GsoKind : uint8_t { none, tcp4, tcp6, udp_l4, ufo };

// Where the headers of a GSO frame are (all zero / none for a frame without gso_type).
struct FrameLayout {
  GsoKind gso = GsoKind::none;
  L3 l3 = L3::none;
  uint8_t l4_proto = 0;      // 6 TCP, 17 UDP
  uint16_t l3_offset = 0;    // 14, or 18 behind an 802.1Q tag
  uint16_t l4_offset = 0;    // l3_offset + IPv4 IHL*4 or + 40
  uint16_t headers_len = 0;  // l4_offset + TCP header with options, or + 8 for UDP
};

struct Validation {
  Verdict verdict = Verdict::ok;
  FrameLayout layout;
  bool ok() const { return verdict == Verdict::ok; }
};

// Largest L2+L3+L4 header block: 802.1Q Ethernet 18 + IPv4 with options 60 + TCP with options 60.
constexpr uint32_t kMaxHeaderBytes = 18 + 60 + 60;

Validation validate(const virtio::NetHdr& hdr, const FrameView& frame);

// The checks above, on header bytes already copied out of the frame (head = the first
// min(frame_len, kMaxHeaderBytes) bytes, head_len of them valid). validate() and
// Segmenter::start() both use it so that they decide on the same copy they act on.
Validation validate_copied(const virtio::NetHdr& hdr, const uint8_t* head, uint32_t head_len, uint32_t frame_len);

GsoKind gso_kind(uint8_t gso_type);  // without the ECN bit; none also for unknown values

}  // namespace vnet::offload
