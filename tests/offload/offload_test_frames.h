// Hand-built Ethernet/IPv4/IPv6/TCP/UDP frames, a deliberately plain RFC 1071 checksum to check
// the library against, and frames scattered over many separately allocated spans (so that ASan
// catches any read past a span).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "mem/guest_memory.h"
#include "offload/frame_view.h"
#include "virtio/net_hdr.h"

namespace vnet::offload::testing {

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kPsh = 0x08, kAck = 0x10, kEce = 0x40, kCwr = 0x80;

struct FrameSpec {
  bool ipv6 = false;
  bool vlan = false;
  bool udp = false;
  uint32_t payload = 0;
  uint32_t ip_options = 0;   // IPv4 option bytes (multiple of 4)
  uint32_t tcp_options = 0;  // TCP option bytes (multiple of 4)
  uint8_t tcp_flags = kAck | kPsh;
  uint32_t seq = 0x11223344;
  uint16_t ip_id = 0x4242;
  bool df = true;
  uint8_t payload_seed = 7;
};

struct Built {
  std::vector<uint8_t> bytes;
  uint32_t l3 = 0, l4 = 0, headers = 0;
};

// The L4 checksum field holds the pseudo-header sum (as a NEEDS_CSUM sender leaves it).
Built build_frame(const FrameSpec& s);
// A GSO header for a built frame: NEEDS_CSUM, csum fields at the transport check, hdr_len exact.
virtio::NetHdr gso_header(const Built& b, const FrameSpec& s, uint8_t gso_type, uint16_t gso_size);
virtio::NetHdr csum_header(const Built& b, const FrameSpec& s);

// RFC 1071 the obvious way: 16-bit big-endian words, 32-bit sum, fold, complement.
uint16_t rfc1071(const std::vector<uint8_t>& bytes);
// The checksum of a transport segment at l4 (length n) including its pseudo-header; 0 when the
// stored checksum is right.
uint16_t l4_verify(const uint8_t* frame, uint32_t l3, uint32_t l4, uint32_t n, bool ipv6, uint8_t proto);

// A frame copied into spans of the given sizes (cycled), each its own heap block, with `lead`
// junk bytes before the frame in the first span.
class ScatteredFrame {
 public:
  ScatteredFrame(const std::vector<uint8_t>& frame, const std::vector<uint32_t>& sizes, uint32_t lead = 0);
  FrameView view() const { return FrameView{spans_.data(), static_cast<uint16_t>(spans_.size()), lead_, len_}; }
  size_t span_count() const { return spans_.size(); }

 private:
  std::vector<std::unique_ptr<uint8_t[]>> blocks_;
  std::vector<HostSpan> spans_;
  uint32_t lead_;
  uint32_t len_;
};

}  // namespace vnet::offload::testing
