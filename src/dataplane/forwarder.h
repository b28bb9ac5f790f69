// The forwarding step a poll thread calls with each received burst. The switch layer
// implements it (bridge: learn, look up, flood, VLAN); the dataplane only knows this interface.
#pragma once

#include <cstdint>

#include "dataplane/packet.h"

namespace vnet::dataplane {

class Port;

class Forwarder {
 public:
  virtual ~Forwarder() = default;
  // Forwards a burst received on (ingress, queue): delivers every packet to its destinations
  // (each destination's transmit() copies it) before returning, so that the caller can then
  // release the source buffers with ingress->receive_done(queue).
  virtual void forward(Port* ingress, uint16_t queue, Packet* pkts, uint16_t n) = 0;
};

}  // namespace vnet::dataplane
