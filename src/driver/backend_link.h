// The vhost-user front-end operations the driver needs, as an interface. The real
// implementation forwards to vhost_user::Frontend (frontend_link.h); tests plug an in-process
// device harness in here. Every call is control path: typed errors, may block up to the link's
// timeout.
#pragma once

#include <cstdint>
#include <span>

#include "base/error.h"
#include "driver/driver_memory.h"

namespace vnet::driver {

// vhost-user protocol feature bits the driver uses (vhost-user.rst).
constexpr unsigned kProtoMq = 0;
constexpr unsigned kProtoReplyAck = 3;
constexpr unsigned kProtoMtu = 4;

class BackendLink {
 public:
  virtual ~BackendLink() = default;

  virtual Result<uint64_t> get_features() = 0;
  virtual Status set_features(uint64_t features) = 0;
  virtual Result<uint64_t> get_protocol_features() = 0;
  virtual Status set_protocol_features(uint64_t features) = 0;
  // GET_QUEUE_NUM: queue pairs the back-end supports (only with protocol MQ).
  virtual Result<uint64_t> get_queue_num() = 0;
  virtual Status set_owner() = 0;
  virtual Status set_mem_table(std::span<const MemRegionDesc> regions) = 0;
  virtual Status net_set_mtu(uint16_t mtu) = 0;

  virtual Status set_vring_num(uint32_t index, uint32_t num) = 0;
  virtual Status set_vring_base(uint32_t index, uint32_t base) = 0;
  // Ring areas as front-end virtual addresses.
  virtual Status set_vring_addr(uint32_t index, uint64_t desc, uint64_t used, uint64_t avail) = 0;
  virtual Status set_vring_kick(uint32_t index, int fd) = 0;
  virtual Status set_vring_call(uint32_t index, int fd) = 0;
  virtual Status set_vring_enable(uint32_t index, bool enable) = 0;
  // Stops the ring; returns the back-end's last_avail_idx.
  virtual Result<uint32_t> get_vring_base(uint32_t index) = 0;

  // The connection's socket, for a control thread to poll for the back-end hanging up after
  // bring-up (nothing else reads it once the rings run); -1 when the link has no socket
  // (in-process test back-ends). Borrowed: valid while the link lives.
  virtual int socket_fd() const { return -1; }
};

}  // namespace vnet::driver
