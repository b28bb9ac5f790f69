// A packet as it moves through a poll thread's burst: a view of frame bytes that stay where the
// source put them (a guest's TX buffers, or a pooled buffer for a tap source) until every
// destination has copied them. Nothing here owns memory.
#pragma once

#include <cstdint>

#include "mem/guest_memory.h"
#include "virtio/net_hdr.h"

namespace vnet::dataplane {

constexpr uint16_t kBurstSize = 32;       // packets per receive() call
constexpr uint32_t kEthHeaderCopy = 18;   // bytes of the frame copied into Packet::eth
constexpr uint16_t kVlanNone = 0;

struct Packet {
  // Frame bytes (Ethernet header onward, virtio-net header already stripped): `len` bytes
  // starting `offset` bytes into spans[0] and continuing through spans[1..nspans).
  const HostSpan* spans = nullptr;
  uint16_t nspans = 0;
  uint32_t offset = 0;
  uint32_t len = 0;
  // Offload metadata as the source gave it (flags, gso_type, gso_size, csum_*); num_buffers unused.
  virtio::NetHdr hdr{};
  // Copy of the first min(len, 18) frame bytes: MACs, ethertype or 802.1Q tag, for switching
  // decisions without touching guest memory again.
  uint8_t eth[kEthHeaderCopy]{};
  // VLAN the frame belongs to after ingress classification (access VLAN or the tag's VID).
  uint16_t vlan = kVlanNone;
  // The frame bytes carry an 802.1Q tag at offset 12.
  bool tagged = false;
};

// What a destination must do to the frame's tag while copying it out.
enum class VlanEdit : uint8_t { none, push, pop };

struct TxItem {
  const Packet* pkt;
  VlanEdit edit;
  uint16_t vid;  // for push: the VID to insert (TPID 0x8100, PCP 0)
};

}  // namespace vnet::dataplane
