// One vhost-user connection seen from the back-end (device) side: one connection is one
// device. It checks every message, collects the protocol state (features, memory table, per
// ring num/addr/base/kick/call/err/enable) and drives the DeviceBackend hooks from it.
//
// A ring is started when a predicate over the collected state holds (features set, memory
// present, num, addresses that translate, kick fd or NOFD), not after a fixed message order:
// QEMU 7.2 sends SET_VRING_ENABLE before any ring exists and CALL before SET_FEATURES, Cloud
// Hypervisor orders NUM, ADDR, BASE, CALL, KICK. GET_VRING_BASE stops a ring (without resetting
// it; SET_STATUS 0 does not touch rings because QEMU 7.2 sends it before GET_VRING_BASE) and the
// next SET_VRING_KICK starts it again.
//
// Bad input: a message that fails a check gets a failure reply when the front-end asked for one
// (REPLY_ACK + NEED_REPLY) and otherwise closes the connection; closing stops every ring, resets
// the device and releases every fd and mapping of this connection, nothing else.
//
// Not thread-safe: one control thread calls everything (vhost_user::Service does).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "base/qsbr.h"
#include "mem/guest_memory.h"
#include "vhost_user/channel.h"
#include "vhost_user/device_backend.h"
#include "vhost_user/message.h"

namespace vnet::vhost_user {

// Protocol features the back-end offers (not CONFIG: QEMU 7.2 strips it for net; not LOG_SHMFD
// until live migration is implemented).
constexpr uint64_t kBackendProtocolFeatures =
    protocol::bit(protocol::kMq) | protocol::bit(protocol::kRarp) | protocol::bit(protocol::kReplyAck) |
    protocol::bit(protocol::kNetMtu) | protocol::bit(protocol::kConfigureMemSlots) | protocol::bit(protocol::kStatus);
// GET_MAX_MEM_SLOTS; must never decrease across reconnects (QEMU checks).
constexpr uint64_t kBackendMaxMemSlots = 32;
// The u64 index field of KICK/CALL/ERR has 8 bits: at most 256 rings, 128 queue pairs.
constexpr uint16_t kBackendMaxQueuePairs = 128;
// Messages handled per on_readable() call before yielding to other connections.
constexpr int kMessagesPerWakeup = 64;

class BackendConnection {
 public:
  // `socket`: a connected unix stream socket (made non-blocking here). The device must outlive
  // the connection. attach_memory() is called here.
  BackendConnection(UniqueFd socket, DeviceBackend& device, std::string name, Qsbr& qsbr = Qsbr::global());
  ~BackendConnection();
  BackendConnection(const BackendConnection&) = delete;
  BackendConnection& operator=(const BackendConnection&) = delete;

  int fd() const { return channel_.fd(); }
  const std::string& name() const { return name_; }
  bool closed() const { return !channel_.valid(); }

  // Reads and handles every complete message available without blocking. An error means the
  // connection is finished (peer closed or protocol violation); it has been closed already.
  Status on_readable();
  // Handles one received message and sends its reply. An error means the connection must end
  // (on_readable() closes it; direct callers should call close()).
  Status handle(Message msg);
  // Stops every ring, resets the device, releases every fd, mapping and the socket. Idempotent.
  void close();

  // Observers (tests, stats).
  virtio::Features offered_features() const { return offered_features_; }
  virtio::Features acked_features() const { return acked_features_; }
  uint64_t acked_protocol_features() const { return acked_protocol_features_; }
  uint8_t status() const { return status_; }
  uint16_t num_rings() const { return static_cast<uint16_t>(vrings_.size()); }
  bool ring_started(uint16_t index) const { return index < vrings_.size() && vrings_[index].started; }
  const GuestMemory& memory() const { return memory_; }
  uint64_t messages_handled() const { return messages_; }

 private:
  struct Vring {
    uint16_t num = 0;                   // 0: no SET_VRING_NUM yet
    std::optional<VringAddr> addr;      // front-end virtual addresses
    uint16_t base = 0;                  // last_avail_idx to start from / last stopped at
    bool kick_known = false;            // SET_VRING_KICK seen since the last stop
    UniqueFd kick;                      // invalid with kick_known: NOFD, the device polls
    UniqueFd call;
    UniqueFd err;
    bool enable_msg = false;            // last SET_VRING_ENABLE
    bool started = false;               // the device runs it
    VringSetup setup;                   // what the device was given
  };
  struct RingPointers {
    uint8_t* desc;
    uint8_t* avail;
    uint8_t* used;
  };
  using Handler = Status (BackendConnection::*)(Message&);

  Status check_shape(const Message& m, const RequestInfo& info) const;
  Status dispatch(Message& m);
  Status reply_u64(const Message& m, uint64_t value);
  Status send_reply(const Message& m, Message reply);

  // Requests.
  Status on_get_features(Message& m);
  Status on_set_features(Message& m);
  Status on_get_protocol_features(Message& m);
  Status on_set_protocol_features(Message& m);
  Status on_get_queue_num(Message& m);
  Status on_set_owner(Message& m);
  Status on_reset_owner(Message& m);
  Status on_set_mem_table(Message& m);
  Status on_get_max_mem_slots(Message& m);
  Status on_add_mem_reg(Message& m);
  Status on_rem_mem_reg(Message& m);
  Status on_set_vring_num(Message& m);
  Status on_set_vring_addr(Message& m);
  Status on_set_vring_base(Message& m);
  Status on_get_vring_base(Message& m);
  Status on_set_vring_kick(Message& m);
  Status on_set_vring_call(Message& m);
  Status on_set_vring_err(Message& m);
  Status on_set_vring_enable(Message& m);
  Status on_send_rarp(Message& m);
  Status on_net_set_mtu(Message& m);
  Status on_set_status(Message& m);
  Status on_get_status(Message& m);
  static Handler handler_for(Request r);

  // Ring lifecycle.
  Result<Vring*> vring(uint32_t index, const Message& m);
  // SET_VRING_KICK/CALL/ERR payload: ring index and NOFD flag (unknown bits refused), and the
  // eventfd checked and made non-blocking (empty with NOFD).
  struct VringFdRequest {
    Vring* vring;
    uint16_t index;
    UniqueFd fd;
  };
  Result<VringFdRequest> vring_fd_request(Message& m);
  Result<RingPointers> translate(const Vring& v, const MemoryTable* table) const;
  bool effective_enable(const Vring& v) const;
  void try_start(uint16_t index);
  void try_start_all();
  void stop(uint16_t index);
  std::vector<uint16_t> stop_all();
  void restart(const std::vector<uint16_t>& indexes);
  void reset_state();  // stops rings, forgets everything negotiated, resets the device
  Status install_table(std::shared_ptr<const MemoryTable> table, bool stop_running);

  std::string name_;
  DeviceBackend& device_;
  Channel channel_;
  GuestMemory memory_;
  std::vector<Vring> vrings_;
  virtio::Features offered_features_;
  virtio::Features acked_features_ = 0;
  bool features_set_ = false;
  uint64_t acked_protocol_features_ = 0;
  bool owner_ = false;
  uint8_t status_ = 0;
  uint64_t messages_ = 0;
  std::optional<Message> pending_reply_;  // the reply of an always-replying request
};

}  // namespace vnet::vhost_user
