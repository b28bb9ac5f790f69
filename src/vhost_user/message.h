// vhost-user wire format (QEMU docs/interop/vhost-user.rst, "Message Specification"): request
// ids, header flags, payload layouts with their exact sizes, and a table saying for each
// request what a well-formed message looks like (payload size, fds carried, reply expected).
// Both the back-end and our front-end use it; nothing here knows about rings or devices.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "base/fd.h"

namespace vnet::vhost_user {

enum class Request : uint32_t {
  none = 0,
  get_features = 1,
  set_features = 2,
  set_owner = 3,
  reset_owner = 4,
  set_mem_table = 5,
  set_log_base = 6,
  set_log_fd = 7,
  set_vring_num = 8,
  set_vring_addr = 9,
  set_vring_base = 10,
  get_vring_base = 11,
  set_vring_kick = 12,
  set_vring_call = 13,
  set_vring_err = 14,
  get_protocol_features = 15,
  set_protocol_features = 16,
  get_queue_num = 17,
  set_vring_enable = 18,
  send_rarp = 19,
  net_set_mtu = 20,
  set_backend_req_fd = 21,  // SET_SLAVE_REQ_FD before QEMU 8.1
  iotlb_msg = 22,
  set_vring_endian = 23,
  get_config = 24,
  set_config = 25,
  create_crypto_session = 26,
  close_crypto_session = 27,
  postcopy_advise = 28,
  postcopy_listen = 29,
  postcopy_end = 30,
  get_inflight_fd = 31,
  set_inflight_fd = 32,
  gpu_set_socket = 33,
  reset_device = 34,
  vring_kick = 35,
  get_max_mem_slots = 36,
  add_mem_reg = 37,
  rem_mem_reg = 38,
  set_status = 39,
  get_status = 40,
};

// Header flags.
constexpr uint32_t kVersion = 0x1;
constexpr uint32_t kVersionMask = 0x3;
constexpr uint32_t kFlagReply = 1u << 2;
constexpr uint32_t kFlagNeedReply = 1u << 3;
constexpr uint32_t kKnownFlags = kVersionMask | kFlagReply | kFlagNeedReply;

// Protocol feature bits (GET/SET_PROTOCOL_FEATURES).
namespace protocol {
constexpr unsigned kMq = 0;
constexpr unsigned kLogShmfd = 1;
constexpr unsigned kRarp = 2;
constexpr unsigned kReplyAck = 3;
constexpr unsigned kNetMtu = 4;
constexpr unsigned kBackendReq = 5;
constexpr unsigned kCrossEndian = 6;
constexpr unsigned kConfig = 9;
constexpr unsigned kInflightShmfd = 12;
constexpr unsigned kResetDevice = 13;
constexpr unsigned kInbandNotifications = 14;
constexpr unsigned kConfigureMemSlots = 15;
constexpr unsigned kStatus = 16;
constexpr uint64_t bit(unsigned n) { return uint64_t{1} << n; }
}  // namespace protocol

// SET_VRING_KICK/CALL/ERR u64 payload: bits 0-7 vring index, bit 8 "no fd" (poll instead).
constexpr uint64_t kVringIndexMask = 0xff;
constexpr uint64_t kVringNoFd = 0x100;

// VHOST_VRING_F_LOG in SET_VRING_ADDR flags.
constexpr uint32_t kVringFLog = 0x1;

// Without CONFIGURE_MEM_SLOTS a SET_MEM_TABLE holds at most this many regions
// (VHOST_MEMORY_BASELINE_NREGIONS).
constexpr uint32_t kMaxMemTableRegions = 8;

// Receive limits: a larger message or more fds is a protocol error (rust-vmm uses the same
// 4 KiB cap; no request we accept carries more than 8 fds).
constexpr uint32_t kMaxPayloadSize = 4096;
constexpr size_t kMaxFdsPerMessage = 8;

struct MessageHeader {
  uint32_t request;
  uint32_t flags;
  uint32_t size;
};
static_assert(sizeof(MessageHeader) == 12);

// Payloads, native byte order, laid out exactly as on the wire.
struct VringState {  // SET_VRING_NUM/BASE, GET_VRING_BASE, SET_VRING_ENABLE
  uint32_t index;
  uint32_t num;
};
static_assert(sizeof(VringState) == 8);

struct VringAddr {  // SET_VRING_ADDR; note: used before avail on the wire
  uint32_t index;
  uint32_t flags;
  uint64_t desc;
  uint64_t used;
  uint64_t avail;
  uint64_t log;
};
static_assert(sizeof(VringAddr) == 40);

struct MemRegion {  // one entry of the memory table
  uint64_t guest_phys_addr;
  uint64_t memory_size;
  uint64_t userspace_addr;
  uint64_t mmap_offset;
};
static_assert(sizeof(MemRegion) == 32);

struct MemTableHeader {  // SET_MEM_TABLE: followed by nregions MemRegion entries
  uint32_t nregions;
  uint32_t padding;
};
static_assert(sizeof(MemTableHeader) == 8);

struct SingleMemRegion {  // ADD_MEM_REG, REM_MEM_REG
  uint64_t padding;
  MemRegion region;
};
static_assert(sizeof(SingleMemRegion) == 40);

// How many fds a well-formed message of a request carries.
enum class FdRule : uint8_t {
  none,         // no fd
  one,          // exactly one
  nofd_flag,    // one, or none when bit 8 of the u64 payload is set
  per_region,   // one per memory table region
  optional_one, // REM_MEM_REG: SHOULD carry none, MAY carry one (closed)
};

// Which payload sizes are well formed.
enum class SizeRule : uint8_t {
  empty,        // 0
  u64,          // 8
  empty_or_u64, // getters: QEMU sends 0, some front-ends 8 (ignored)
  vring_state,  // 8
  vring_addr,   // 40
  mem_table,    // 8 + nregions * 32, nregions <= 8
  single_region,// 40
  any,          // requests we only refuse; the size is checked against kMaxPayloadSize only
};

struct RequestInfo {
  Request request;
  std::string_view name;
  SizeRule size;
  FdRule fds;
  bool always_replies;  // the back-end answers whether or not NEED_REPLY is set
  bool supported;       // handled by our back-end (others are refused)
};

// The rules for `request`, or nullopt for an id the specification does not define.
std::optional<RequestInfo> request_info(uint32_t request);
std::string_view request_name(uint32_t request);

// A complete message with the fds that came with it (owned: closed unless moved out).
struct Message {
  MessageHeader hdr{};
  std::vector<uint8_t> payload;
  std::vector<UniqueFd> fds;

  Request request() const { return static_cast<Request>(hdr.request); }
  bool need_reply() const { return (hdr.flags & kFlagNeedReply) != 0; }
  // Copies the payload out as T (caller checked the size).
  template <class T>
  T as() const;
  uint64_t u64() const { return as<uint64_t>(); }
};

// Builders for the sender side.
Message make_message(Request request, uint32_t flags = kVersion);
template <class T>
Message make_message(Request request, const T& payload, uint32_t flags = kVersion);

template <class T>
T Message::as() const {
  T v{};
  std::memcpy(&v, payload.data(), std::min(sizeof(T), payload.size()));
  return v;
}

template <class T>
Message make_message(Request request, const T& payload, uint32_t flags) {
  Message m = make_message(request, flags);
  m.hdr.size = sizeof(T);
  m.payload.resize(sizeof(T));
  std::memcpy(m.payload.data(), &payload, sizeof(T));
  return m;
}

}  // namespace vnet::vhost_user
