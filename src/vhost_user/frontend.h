// The front-end (driver) side of vhost-user, used by our userspace virtio-net driver: connects to
// a back-end (or accepts one), negotiates, hands over memory and rings, and tears them down.
//
// Every call is blocking and bounded by reply_timeout() (default 5 s): a back-end that does not
// answer gives an error, never a hang. When REPLY_ACK is negotiated every request that has no
// reply of its own is sent with NEED_REPLY, so a refusal by the back-end comes back as an error
// from the call that caused it.
//
// Addresses: memory regions are RegionSpec (mem/guest_memory.h): fd + mmap_offset + size +
// guest_phys_addr + user_addr. Our driver uses GPA == offset in its memfd region and
// user_addr == its own pointer; ring addresses passed to set_vring_addr are front-end virtual
// addresses (pointers), as in QEMU.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "mem/guest_memory.h"
#include "vhost_user/channel.h"
#include "virtio/features.h"

namespace vnet::vhost_user {

// Ring areas as front-end virtual addresses.
struct VringAddresses {
  uint64_t desc = 0;
  uint64_t avail = 0;
  uint64_t used = 0;
  uint64_t log = 0;
  uint32_t flags = 0;  // kVringFLog
};

// One ring for bring_up(): everything SET_VRING_NUM/BASE/ADDR/KICK/CALL/ENABLE need.
struct FrontendRing {
  uint16_t index = 0;
  uint16_t size = 0;
  VringAddresses addr;
  uint16_t base = 0;  // last_avail_idx to start from
  int kick_fd = -1;   // borrowed; -1 = NOFD (the back-end polls)
  int call_fd = -1;   // borrowed; -1 = NOFD (no interrupts wanted)
  bool enable = true;
};

struct BringUpConfig {
  virtio::Features driver_features = 0;    // what the driver wants; ANDed with the back-end's offer
  uint64_t protocol_features = ~uint64_t{0};  // wanted; ANDed with the offer and what we implement
  std::vector<RegionSpec> regions;         // fds borrowed
  std::vector<FrontendRing> rings;
  std::optional<uint16_t> mtu;             // NET_SET_MTU if VIRTIO_NET_F_MTU and PROTOCOL_F_NET_MTU
};

struct Negotiated {
  virtio::Features features = 0;   // acked virtio features (bit 30 included when offered)
  uint64_t protocol_features = 0;  // acked protocol features
  uint64_t queue_pairs = 1;        // GET_QUEUE_NUM, or 1 without PROTOCOL_F_MQ
};

class Frontend {
 public:
  // Protocol features this front-end implements (what bring_up() may ack).
  static constexpr uint64_t kSupportedProtocolFeatures =
      protocol::bit(protocol::kMq) | protocol::bit(protocol::kRarp) | protocol::bit(protocol::kReplyAck) |
      protocol::bit(protocol::kNetMtu) | protocol::bit(protocol::kConfigureMemSlots) | protocol::bit(protocol::kStatus);

  // Connects to a back-end listening on `path`, retrying until `timeout` while the socket does
  // not exist yet or refuses.
  static Result<Frontend> connect(const std::string& path, std::chrono::milliseconds timeout);
  // Listens on `listen_path` (a stale socket there is replaced), accepts one back-end within
  // `timeout`, then closes and unlinks the listening socket.
  static Result<Frontend> accept_one(const std::string& listen_path, std::chrono::milliseconds timeout);

  Frontend(Frontend&&) noexcept = default;
  Frontend& operator=(Frontend&&) noexcept = default;
  ~Frontend() = default;

  void set_reply_timeout(std::chrono::milliseconds t) { reply_timeout_ = t; }
  std::chrono::milliseconds reply_timeout() const { return reply_timeout_; }
  bool connected() const { return channel_.valid(); }
  int socket_fd() const { return channel_.fd(); }
  // Protocol features acked with set_protocol_features (decides REPLY_ACK use).
  uint64_t protocol_features() const { return protocol_features_; }

  // --- one call per request ---
  Result<virtio::Features> get_features();
  Status set_features(virtio::Features features);
  Result<uint64_t> get_protocol_features();
  Status set_protocol_features(uint64_t features);
  Result<uint64_t> get_queue_num();
  Result<uint64_t> get_max_mem_slots();
  Status set_owner();
  Status reset_owner();
  Status set_mem_table(std::span<const RegionSpec> regions);  // at most 8 regions
  Status add_mem_reg(const RegionSpec& region);
  Status rem_mem_reg(const RegionSpec& region);
  Status set_vring_num(uint16_t index, uint16_t num);
  Status set_vring_addr(uint16_t index, const VringAddresses& addr);
  Status set_vring_base(uint16_t index, uint16_t base);
  Result<uint16_t> get_vring_base(uint16_t index);  // stops the ring; returns last_avail_idx
  Status set_vring_kick(uint16_t index, int fd);    // fd borrowed; -1 = NOFD
  Status set_vring_call(uint16_t index, int fd);
  Status set_vring_err(uint16_t index, int fd);
  Status set_vring_enable(uint16_t index, bool enable);
  Status net_set_mtu(uint16_t mtu);
  Status send_rarp(const uint8_t mac[6]);
  Result<uint8_t> get_status();
  Status set_status(uint8_t status);

  // --- conveniences ---
  // The whole start sequence: GET_FEATURES, GET/SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_OWNER,
  // SET_FEATURES, SET_STATUS(FEATURES_OK), SET_MEM_TABLE, NET_SET_MTU, then per ring NUM, BASE,
  // ADDR, CALL, KICK, ENABLE, and SET_STATUS(DRIVER_OK) (the status steps only with
  // PROTOCOL_F_STATUS).
  // Fails if a ring index is beyond the back-end's queue count.
  Result<Negotiated> bring_up(const BringUpConfig& config);
  // Stops rings: disables each, then GET_VRING_BASE; returns last_avail_idx per ring, in order.
  Result<std::vector<uint16_t>> stop_rings(std::span<const uint16_t> indexes);
  // Closes the socket (the back-end resets its device).
  void close() { channel_.close(); }

 private:
  explicit Frontend(Channel ch) : channel_(std::move(ch)) {}
  bool reply_ack() const;
  // Sends `msg`; waits for the ack when REPLY_ACK is negotiated.
  Status request(Message msg, std::span<const int> fds = {});
  // Sends `msg` and returns the reply's payload (checked: REPLY flag, same request, size).
  Result<Message> request_reply(Message msg, uint32_t reply_size);
  // Reads one reply to `r` and checks its flags, request and payload size.
  Result<Message> read_reply(Request r, uint32_t size);
  Result<uint64_t> get_u64(Request r);
  Status set_u64(Request r, uint64_t v, std::span<const int> fds = {});
  Status set_vring_fd(Request r, uint16_t index, int fd);

  Channel channel_;
  uint64_t protocol_features_ = 0;
  virtio::Features features_ = 0;  // last SET_FEATURES
  std::chrono::milliseconds reply_timeout_{5000};
};

}  // namespace vnet::vhost_user
