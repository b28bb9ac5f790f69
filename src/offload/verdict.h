// Why a frame's virtio_net_hdr is refused (or that it is fine). One enum for validation and
// segmentation so that the device can keep one drop counter per reason (index by the value;
// kVerdictCount entries) without building any string on the hot path.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vnet::offload {

enum class Verdict : uint8_t {
  ok = 0,
  // Header fields against the frame.
  unknown_flags,              // a flag other than NEEDS_CSUM / DATA_VALID (RSC_INFO included)
  csum_start_past_end,        // NEEDS_CSUM with csum_start >= frame length
  csum_offset_past_end,       // the 2-byte field at csum_start + csum_offset ends past the frame
  unknown_gso_type,           // gso_type (without the ECN bit) not NONE/TCPV4/TCPV6/UDP/UDP_L4
  ecn_without_gso,            // ECN bit with gso_type NONE
  gso_size_zero,              // gso_type set, gso_size 0
  gso_without_needs_csum,     // gso_type set without NEEDS_CSUM (VIRTIO 1.2 5.1.6.2.1: MUST)
  hdr_len_past_end,           // GSO frame with hdr_len > frame length
  hdr_len_too_small,          // GSO frame with 0 < hdr_len < its real headers
  // The frame against what the GSO header claims.
  frame_too_short,            // the frame ends inside its L2/L3/L4 headers
  not_ip,                     // ethertype (after at most one 802.1Q tag) neither IPv4 nor IPv6
  unsupported_l2,             // stacked tags (0x88a8 / second 0x8100)
  ip_version_mismatch,        // TCPV4 on an IPv6 frame, TCPV6 on IPv4, version field wrong
  bad_ip_header,              // IPv4 IHL < 5 or past the frame
  ip_fragment,                // GSO on an IPv4 fragment
  ipv6_extension_headers,     // IPv6 next header is not TCP/UDP (extension headers refused)
  l4_protocol_mismatch,       // TCP GSO on a non-TCP frame, UDP GSO on a non-UDP frame
  bad_l4_header,              // TCP data offset < 5 or header past the frame
  csum_start_not_l4,          // GSO with csum_start not at the transport header
  csum_offset_not_l4_check,   // GSO with csum_offset not the TCP (16) / UDP (6) check field
  segment_too_large,          // headers + gso_size overflow the IP length fields
  datagram_too_large,         // UFO: UDP length or reassembled IPv4 length above 65535
  ufo_ipv6_unsupported,       // UFO (legacy gso_type UDP) over IPv6: not implemented
  ufo_ipv4_options,           // UFO with IPv4 options: not implemented (copy rules per option)
  ufo_gso_size_too_small,     // UFO gso_size below 8 (fragments carry multiples of 8 bytes)
  // Segmenter use.
  not_gso,                    // Segmenter::start on a frame without gso_type
  buffer_too_small,           // caller's segment buffer below max_segment_size()
  count
};

constexpr size_t kVerdictCount = static_cast<size_t>(Verdict::count);

// Stable snake_case name for counters and logs ("csum_start_past_end").
const char* verdict_name(Verdict v);

}  // namespace vnet::offload
