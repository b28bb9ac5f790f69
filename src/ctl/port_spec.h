// Port specifications as users write them on the command line and in vnetctl add-port:
//   vhost-user:PATH[,client][,queues=N][,name=NAME][,vlan=ID][,trunk=ID+ID...][,bridge=BR][,mode=0660]
//   tap:IFNAME[,queues=N][,name=NAME][,vlan=ID][,trunk=ID+ID...][,bridge=BR]
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace vnet::ctl {

enum class PortKind { vhost_user, tap };

struct PortSpec {
  PortKind kind = PortKind::vhost_user;
  std::string name;
  std::string path;    // vhost-user socket path
  std::string ifname;  // tap interface name
  bool client = false; // vhost-user: vnetd connects to a front-end that listens
  uint16_t queues = 1;
  uint16_t vlan = 1;             // access VLAN (ignored when trunk is set)
  std::vector<uint16_t> trunk;   // allowed VLANs of a trunk port; empty = access port
  std::string bridge = "br0";
  uint32_t socket_mode = 0660;   // vhost-user server socket permissions

  bool operator==(const PortSpec&) const = default;
};

constexpr uint16_t kMaxQueuePairs = 16;

Result<PortSpec> parse_port_spec(std::string_view text);
// The canonical text form (parse_port_spec(format_port_spec(s)) == s).
std::string format_port_spec(const PortSpec& spec);
// Checks what parse_port_spec and the config file both need (names, ranges).
Status validate_port_spec(const PortSpec& spec);
const char* to_string(PortKind kind);
// The name a port gets when none is given: the tap interface, or the socket file name without .sock.
std::string default_port_name(const PortSpec& spec);

}  // namespace vnet::ctl
