// 802.1Q at the edge of the bridge: which VLAN an incoming frame belongs to (or why it is
// dropped), and what a destination port must do to the tag while copying the frame out.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "dataplane/packet.h"

namespace vnet::sw {

constexpr uint16_t kTpid8021Q = 0x8100;
constexpr uint16_t kTpid8021ad = 0x88a8;  // S-tag (QinQ): not supported, dropped
constexpr uint16_t kTpidQinQLegacy = 0x9100;
constexpr uint16_t kMaxVid = 4094;

enum class PortMode : uint8_t { access, trunk };

struct VlanConfig {
  PortMode mode = PortMode::access;
  uint16_t access_vlan = 1;  // access: the port's only VLAN (frames untagged on the wire)
  uint16_t native_vlan = 0;  // trunk: VLAN of untagged frames, sent untagged; 0 = none (dropped)
  std::bitset<4096> allowed;  // trunk: VIDs carried tagged (plus native_vlan)

  static VlanConfig access(uint16_t vid = 1);
  static VlanConfig trunk(const std::vector<uint16_t>& allowed, uint16_t native_vlan = 0);
  Status validate() const;
  std::string describe() const;  // "access vlan 1", "trunk 10,20 native 1"

  // Whether the port is a member of vid (floods and unicasts of vid may go out here).
  bool carries(uint16_t vid) const {
    if (mode == PortMode::access) return vid == access_vlan;
    return allowed[vid & 0xfff] || (native_vlan != 0 && vid == native_vlan);
  }
};

// Why an incoming frame is dropped before switching (counter index, see bridge_counters.h).
enum class IngressDrop : uint8_t {
  none,
  runt,              // shorter than an Ethernet header (or a tag)
  bad_tag,           // tagged frame on an access port, S-tag/QinQ, VID 0 or 4095
  vlan_not_allowed,  // trunk: VID not allowed, or untagged without a native VLAN
};

// Sets pkt.vlan and pkt.tagged from pkt.eth, or returns why the frame must be dropped.
inline IngressDrop classify_ingress(const VlanConfig& cfg, dataplane::Packet& pkt) {
  if (pkt.len < 14) return IngressDrop::runt;
  const uint16_t type = static_cast<uint16_t>(pkt.eth[12] << 8 | pkt.eth[13]);
  if (type == kTpid8021ad || type == kTpidQinQLegacy) return IngressDrop::bad_tag;
  if (type == kTpid8021Q) {
    if (pkt.len < 18) return IngressDrop::runt;
    if (cfg.mode == PortMode::access) return IngressDrop::bad_tag;
    const uint16_t vid = static_cast<uint16_t>((pkt.eth[14] << 8 | pkt.eth[15]) & 0x0fff);
    if (vid == 0 || vid == 0xfff) return IngressDrop::bad_tag;
    if (!cfg.allowed[vid]) return IngressDrop::vlan_not_allowed;
    pkt.vlan = vid;
    pkt.tagged = true;
    return IngressDrop::none;
  }
  pkt.tagged = false;
  if (cfg.mode == PortMode::access) {
    pkt.vlan = cfg.access_vlan;
    return IngressDrop::none;
  }
  if (cfg.native_vlan == 0) return IngressDrop::vlan_not_allowed;
  pkt.vlan = cfg.native_vlan;
  return IngressDrop::none;
}

// The tag edit for sending pkt (classified, vlan carried by dst) out of a port configured dst.
inline dataplane::TxItem egress_item(const VlanConfig& dst, const dataplane::Packet& pkt) {
  const bool untagged_out =
      dst.mode == PortMode::access || (dst.native_vlan != 0 && pkt.vlan == dst.native_vlan);
  if (untagged_out)
    return {&pkt, pkt.tagged ? dataplane::VlanEdit::pop : dataplane::VlanEdit::none, 0};
  return {&pkt, pkt.tagged ? dataplane::VlanEdit::none : dataplane::VlanEdit::push, pkt.vlan};
}

}  // namespace vnet::sw
