// Which negotiated features let a header pass through unchanged, and what the device must do in
// software otherwise. A source's header is checked against the HOST_* bits it negotiated (a
// driver may only use offloads it negotiated, VIRTIO 1.2 5.1.6.2.1); a destination receives
// the header unchanged only if it negotiated the matching GUEST_* bits (5.1.6.4: the device
// sets NEEDS_CSUM only with GUEST_CSUM, a gso_type only with the matching GUEST_TSO*/USO*/UFO,
// the ECN bit only with GUEST_ECN). A TAP destination is described with the same GUEST_* bits
// (see guest_features_from_tun_offloads).
#pragma once

#include <cstdint>

#include "offload/validate.h"
#include "virtio/features.h"
#include "virtio/net_hdr.h"

namespace vnet::offload {

enum class SoftwareWork : uint8_t {
  none,      // pass the header through (header_for_destination may still drop DATA_VALID)
  checksum,  // complete the checksum (compute_checksum_patch), send with an all-zero header
  segment,   // Segmenter: every segment fully checksummed, all-zero header
};

// l3 is needed only to tell GUEST_USO4 from GUEST_USO6 (UDP_L4); L3::none asks for both. Use
// Validation::layout.l3.
virtio::Features guest_features_needed(const virtio::NetHdr& hdr, L3 l3 = L3::none);
virtio::Features host_features_needed(const virtio::NetHdr& hdr);

// True when a source that negotiated `source_features` may send `hdr` (a driver that sets
// NEEDS_CSUM without VIRTIO_NET_F_CSUM, or TSO without HOST_TSO4, breaks the spec: drop it).
inline bool source_may_send(const virtio::NetHdr& hdr, virtio::Features source_features) {
  return (host_features_needed(hdr) & ~source_features) == 0;
}

SoftwareWork needs_software(const virtio::NetHdr& hdr, virtio::Features dest_features, L3 l3 = L3::none);

// The virtio_net_hdr to write for the destination (num_buffers left 0 for the RX path to set):
// none -> the source's header, DATA_VALID dropped unless the destination has GUEST_CSUM (and
// dropped when NEEDS_CSUM is set, which wins); checksum / segment -> all zero.
virtio::NetHdr header_for_destination(const virtio::NetHdr& hdr, SoftwareWork work, virtio::Features dest_features);

// linux/if_tun.h TUN_F_* values (TUNSETOFFLOAD), spelled here so that older kernel headers
// without the USO bits do not matter.
constexpr unsigned kTunFCsum = 0x01;
constexpr unsigned kTunFTso4 = 0x02;
constexpr unsigned kTunFTso6 = 0x04;
constexpr unsigned kTunFTsoEcn = 0x08;
constexpr unsigned kTunFUfo = 0x10;
constexpr unsigned kTunFUso4 = 0x20;
constexpr unsigned kTunFUso6 = 0x40;

// TUNSETOFFLOAD flags <-> the GUEST_* bits they correspond to (what the kernel may hand us on
// read(), i.e. what we may hand a guest-like receiver).
virtio::Features guest_features_from_tun_offloads(unsigned tun_flags);
unsigned tun_offloads_from_guest_features(virtio::Features guest_features);

}  // namespace vnet::offload
