#include "switch/vlan.h"

#include <fmt/format.h>

namespace vnet::sw {

VlanConfig VlanConfig::access(uint16_t vid) {
  VlanConfig c;
  c.mode = PortMode::access;
  c.access_vlan = vid;
  return c;
}

VlanConfig VlanConfig::trunk(const std::vector<uint16_t>& allowed, uint16_t native_vlan) {
  VlanConfig c;
  c.mode = PortMode::trunk;
  c.native_vlan = native_vlan;
  for (uint16_t v : allowed)
    if (v < 4096) c.allowed.set(v);
  return c;
}

Status VlanConfig::validate() const {
  if (mode == PortMode::access) {
    if (access_vlan < 1 || access_vlan > kMaxVid)
      return Error(fmt::format("access vlan {} out of range 1..{}", access_vlan, kMaxVid));
    return {};
  }
  if (allowed[0] || allowed[4095]) return Error("trunk: VLAN 0 and 4095 cannot be allowed");
  if (native_vlan > kMaxVid) return Error(fmt::format("native vlan {} out of range", native_vlan));
  if (native_vlan != 0 && allowed[native_vlan])
    return Error(fmt::format("trunk: native vlan {} is also in the tagged list", native_vlan));
  if (allowed.none() && native_vlan == 0) return Error("trunk: no VLAN allowed");
  return {};
}

std::string VlanConfig::describe() const {
  if (mode == PortMode::access) return fmt::format("access vlan {}", access_vlan);
  std::string s = "trunk ";
  bool first = true;
  for (unsigned v = 1; v <= kMaxVid; ++v) {
    if (!allowed[v]) continue;
    unsigned end = v;
    while (end + 1 <= kMaxVid && allowed[end + 1]) ++end;
    s += (first ? "" : ",") + (end == v ? fmt::format("{}", v) : fmt::format("{}-{}", v, end));
    first = false;
    v = end;
  }
  if (native_vlan) s += fmt::format(" native {}", native_vlan);
  return s;
}

}  // namespace vnet::sw
