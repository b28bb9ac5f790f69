// What the vhost-user back-end tells the device it serves. The vhost_user layer collects
// protocol state (features, memory table, ring num/addr/base/kick/call/enable) and calls these
// hooks when a ring becomes ready or must stop; the device layer implements them and never
// sees a message.
#pragma once

#include <cstdint>

#include "mem/guest_memory.h"
#include "virtio/features.h"

namespace vnet::vhost_user {

// Everything needed to run one virtqueue, collected from the messages.
struct VringSetup {
  uint16_t index = 0;         // virtqueue index (even: RX of queue pair index/2, odd: TX)
  uint16_t size = 0;
  uint8_t* desc = nullptr;    // host pointers of the ring areas, translated from front-end VAs
  uint8_t* avail = nullptr;
  uint8_t* used = nullptr;
  uint16_t last_avail_idx = 0;
  int kick_fd = -1;           // -1: no kick fd (the device polls)
  int call_fd = -1;           // -1: the driver wants no interrupts
  int err_fd = -1;            // SET_VRING_ERR: signalled once when the driver breaks the ring
  bool enabled = false;       // SET_VRING_ENABLE state
};

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;

  // Virtio features the device offers (vhost_user adds VHOST_USER_F_PROTOCOL_FEATURES).
  virtual virtio::Features device_features() const = 0;
  virtual uint16_t max_queue_pairs() const = 0;

  // Called once per connection, before any ring starts, with the memory object whose current
  // table every ring uses (the device reads it under QSBR).
  virtual void attach_memory(const GuestMemory* memory) = 0;
  // SET_FEATURES (may arrive again while rings run, e.g. LOG_ALL toggling).
  virtual void set_features(virtio::Features negotiated) = 0;

  // A ring became ready (memory, num, addr, base, kick or NOFD are all known). Called again
  // with new pointers after a memory table change (stop_ring first).
  virtual void start_ring(const VringSetup& setup) = 0;
  // Stop processing the ring; when it returns no poll thread touches it any more, every popped
  // chain has been completed or given back, and the return value is last_avail_idx.
  virtual uint16_t stop_ring(uint16_t index) = 0;
  // SET_VRING_ENABLE on a started ring (disabled TX is drained and discarded, disabled RX gets
  // nothing).
  virtual void enable_ring(uint16_t index, bool enabled) = 0;
  // SET_VRING_CALL replaced the call fd of a running ring (-1: none).
  virtual void set_call_fd(uint16_t index, int call_fd) = 0;

  // NET_SET_MTU and SEND_RARP.
  virtual void set_mtu(uint16_t mtu) = 0;
  virtual void send_rarp(const uint8_t mac[6]) = 0;
  // The connection went away: every ring is stopped already; forget negotiated state.
  virtual void reset() = 0;
};

}  // namespace vnet::vhost_user
