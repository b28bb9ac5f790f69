// The control-path side of a tap port: creating or attaching to the kernel TAP device
// (/dev/net/tun, one fd per queue), configuring it (vnet header, offloads, MTU, link up), and
// turning the kernel's terse errnos into errors a user can act on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace vnet::ports {

constexpr uint16_t kTapMaxQueues = 256;  // the kernel's MAX_TAP_QUEUES

struct TapConfig {
  // Interface name; empty lets the kernel pick ("tap%d"). An existing persistent TAP device of
  // that name (ip tuntap add NAME mode tap [multi_queue]) is attached to, not recreated.
  std::string name;
  // Queue pairs; > 1 uses IFF_MULTI_QUEUE with one fd per queue (an existing device must then
  // have been created with multi_queue, and a single-queue one without).
  uint16_t queues = 1;
  // MTU to set on the interface; 0 leaves it as it is.
  uint32_t mtu = 0;
  // Bring the link up after opening (SIOCSIFFLAGS IFF_UP).
  bool link_up = true;
  // The clone device; only worth changing where a container mounts it elsewhere.
  std::string tun_path = "/dev/net/tun";
};

// TUN_F_* bits for TUNSETOFFLOAD: what the frames the kernel hands us may carry (partial
// checksums, TSO). Stays 0 until every port a tap frame may reach can take them.
constexpr unsigned kTapOffloadNone = 0;

struct TapDevice {
  std::string ifname;           // the name the kernel confirmed
  std::vector<UniqueFd> fds;    // one per queue, O_NONBLOCK
};

// Opens (creates or attaches) the device in the calling thread's network namespace.
Result<TapDevice> open_tap_device(const TapConfig& config);

// TUNSETOFFLOAD on the device (any of its fds).
Status set_tap_offload(int fd, unsigned tun_offload_flags);

}  // namespace vnet::ports
