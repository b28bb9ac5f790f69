// The interface every port implements (vhost-user port, tap port). Poll threads call it; the
// bridge decides where packets go; ports only move bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/packet.h"

namespace vnet::dataplane {

// Per queue counters, written by the owning poll thread(s) with relaxed atomics and read by
// the control path at any time.
struct QueueStats;

class Port {
 public:
  virtual ~Port() = default;
  virtual const std::string& name() const = 0;
  // Number of queue pairs currently usable (0 while a vhost-user front-end is not connected).
  virtual uint16_t num_queues() const = 0;

  // Receives up to `max` packets from the outside world on queue q (a guest's TX ring, a tap
  // fd). The packets stay valid until receive_done(q).
  virtual uint16_t receive(uint16_t q, Packet* out, uint16_t max) = 0;
  // Releases everything the last receive(q) handed out (completes guest TX chains).
  virtual void receive_done(uint16_t q) = 0;

  // Delivers packets to the outside world on queue q (a guest's RX ring, a tap fd): one copy per
  // packet, VLAN edits applied while copying. Packets that cannot be delivered are dropped and
  // counted. Callers serialize calls per (port, q) (see dataplane/poll threads).
  virtual void transmit(uint16_t q, const TxItem* items, uint16_t n) = 0;

  // File descriptors a sleeping poll thread waits on for queue q (kick eventfd, tap fd); -1 if
  // none. enable_notify(q) re-arms notifications and returns true if work arrived meanwhile.
  virtual int wait_fd(uint16_t q) const = 0;
  virtual bool enable_notify(uint16_t q) = 0;
  virtual void disable_notify(uint16_t q) = 0;

  // Changes whenever wait_fd() of some queue may have been replaced (a vhost-user ring restarted
  // with a new kick eventfd, possibly reusing the old fd number): poll threads then re-register
  // before sleeping. Ports whose fds never change keep the default.
  virtual uint64_t wait_fd_generation() const { return 0; }
};

}  // namespace vnet::dataplane
