// Software GSO for a destination that did not negotiate the offload: turns one validated GSO
// frame into complete wire frames, one at a time, into a buffer the caller gives (no
// allocation; one Segmenter per poll thread, reused).
//
// - TCPV4/TCPV6: every segment carries the headers (options included) and up to gso_size payload
//   bytes; IPv4 total length, IP id (+1 per segment), header checksum; IPv6 payload length; TCP
//   sequence number; FIN and PSH only on the last segment, CWR only on the first; full TCP
//   checksum over the pseudo-header (the destination has no checksum offload either).
// - UDP_L4 (USO): every segment is its own UDP datagram (length, full checksum, IP id +1).
// - UDP (UFO, legacy, IPv4 only): one UDP datagram with a full checksum, cut into IPv4
//   fragments of gso_size rounded down to 8 bytes (same id, offsets, MF on all but the
//   fragment at the end). Fragments are produced last-first so that the UDP checksum, which
//   covers all of them, is known by the time the first fragment (holding the UDP header) is
//   written, while each payload byte is still read from guest memory only once. Receivers
//   reassemble in any order.
// The ECN bit of gso_type needs nothing beyond the CWR rule. Output frames need an all-zero
// virtio_net_hdr (flags 0, gso NONE).
#pragma once

#include <cstdint>

#include "offload/frame_view.h"
#include "offload/validate.h"
#include "offload/verdict.h"
#include "virtio/net_hdr.h"

namespace vnet::offload {

class Segmenter {
 public:
  // Validates hdr against the frame (the same checks as validate(), on the header copy this
  // object keeps) and prepares segmentation. Anything but ok leaves the Segmenter done().
  Verdict start(const virtio::NetHdr& hdr, const FrameView& frame);

  // Bytes the caller's buffer needs for any segment of the current frame.
  uint32_t max_segment_size() const { return max_seg_; }
  uint32_t segment_count() const { return count_; }
  bool done() const { return emitted_ >= count_; }
  const FrameLayout& layout() const { return layout_; }

  // Writes the next segment into out[0..cap) and returns its length; 0 when done(), or when
  // cap < max_segment_size() (then error() is buffer_too_small and nothing advances).
  uint32_t next(uint8_t* out, uint32_t cap);
  Verdict error() const { return error_; }

 private:
  uint32_t next_tcp_udp(uint8_t* out);
  uint32_t next_ufo(uint8_t* out);
  // Copies frame payload [pos, pos+n) to dst; zero-fills what the spans could not provide.
  void read_payload(uint32_t pos, uint8_t* dst, uint32_t n);
  uint16_t pseudo_sum(const uint8_t* frame, uint32_t l4_len) const;
  void finish_ipv4(uint8_t* out, uint32_t ip_total, uint16_t id, uint16_t frag) const;

  FrameView frame_{};
  FrameReader reader_{FrameView{}};
  FrameLayout layout_{};
  uint8_t head_[kMaxHeaderBytes]{};  // the frame's headers, copied once
  uint32_t payload_ = 0;             // bytes after headers (after the IP header for UFO)
  uint32_t mss_ = 0;                 // payload bytes per segment (fragment data for UFO)
  uint32_t count_ = 0;
  uint32_t emitted_ = 0;
  uint32_t max_seg_ = 0;
  uint16_t ip_id_ = 0;
  uint32_t seq_ = 0;
  uint16_t ufo_data_sum_ = 0;  // UFO: ones' sum of the UDP data emitted so far
  Verdict error_ = Verdict::ok;
};

}  // namespace vnet::offload
