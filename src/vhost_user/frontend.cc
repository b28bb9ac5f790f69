#include "vhost_user/frontend.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "base/unix_socket.h"

namespace vnet::vhost_user {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string name_of(Request r) { return std::string(request_name(static_cast<uint32_t>(r))); }

MemRegion to_wire(const RegionSpec& r) { return MemRegion{r.guest_phys_addr, r.size, r.user_addr, r.mmap_offset}; }

}  // namespace

Result<Frontend> Frontend::connect(const std::string& path, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  milliseconds backoff{5};
  for (;;) {
    auto fd = connect_unix(path);
    if (fd) return Frontend(Channel(std::move(fd.value())));
    int e = fd.error().sys_errno();
    // The back-end may not be listening yet; anything else is final.
    if (e != ENOENT && e != ECONNREFUSED && e != EAGAIN) return fd.error();
    if (Clock::now() + backoff > deadline) return Error("vhost-user back-end at " + path + " not reachable: " + fd.error().message(), e);
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, milliseconds(200));
  }
}

Result<Frontend> Frontend::accept_one(const std::string& listen_path, milliseconds timeout) {
  auto listener = listen_unix(listen_path, 0600, 1);
  if (!listener) return listener.error();
  auto deadline = Clock::now() + timeout;
  Result<Frontend> result = Error("timed out waiting for a vhost-user back-end to connect to " + listen_path);
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{listener->get(), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result = sys_error("poll " + listen_path);
      break;
    }
    if (n == 0) continue;
    int fd = ::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
      result = sys_error("accept on " + listen_path);
      break;
    }
    result = Frontend(Channel(UniqueFd(fd)));
    break;
  }
  ::unlink(listen_path.c_str());
  return result;
}

bool Frontend::reply_ack() const { return (protocol_features_ & protocol::bit(protocol::kReplyAck)) != 0; }

Result<Message> Frontend::read_reply(Request r, uint32_t size) {
  auto reply = channel_.recv(reply_timeout_);
  if (!reply) return Error("waiting for the reply to " + name_of(r) + ": " + reply.error().message(), reply.error().sys_errno());
  const Message& m = reply.value();
  if (m.hdr.request != static_cast<uint32_t>(r) || !(m.hdr.flags & kFlagReply) || (m.hdr.flags & kVersionMask) != kVersion)
    return Error("bad reply to " + name_of(r) + ": request " + std::to_string(m.hdr.request) + ", flags " + std::to_string(m.hdr.flags));
  if (m.payload.size() != size)
    return Error("bad reply to " + name_of(r) + ": " + std::to_string(m.payload.size()) + " bytes, expected " + std::to_string(size));
  return reply;
}

Status Frontend::request(Message msg, std::span<const int> fds) {
  if (!channel_.valid()) return Error("vhost-user front-end is not connected");
  const bool ack = reply_ack();
  if (ack) msg.hdr.flags |= kFlagNeedReply;
  if (auto s = channel_.send(msg, fds, reply_timeout_); !s) return s;
  if (!ack) return {};
  auto reply = read_reply(msg.request(), sizeof(uint64_t));
  if (!reply) return reply.error();
  if (uint64_t code = reply->u64(); code != 0)
    return Error("vhost-user back-end refused " + name_of(msg.request()) + " (code " + std::to_string(code) + ")");
  return {};
}

Result<Message> Frontend::request_reply(Message msg, uint32_t reply_size) {
  if (!channel_.valid()) return Error("vhost-user front-end is not connected");
  if (auto s = channel_.send(msg, {}, reply_timeout_); !s) return s.error();
  return read_reply(msg.request(), reply_size);
}

Result<uint64_t> Frontend::get_u64(Request r) {
  auto reply = request_reply(make_message(r), sizeof(uint64_t));
  if (!reply) return reply.error();
  return reply->u64();
}

Status Frontend::set_u64(Request r, uint64_t v, std::span<const int> fds) { return request(make_message(r, v), fds); }

Result<virtio::Features> Frontend::get_features() { return get_u64(Request::get_features); }
Status Frontend::set_features(virtio::Features f) {
  if (auto s = set_u64(Request::set_features, f); !s) return s;
  features_ = f;
  return {};
}
Result<uint64_t> Frontend::get_protocol_features() { return get_u64(Request::get_protocol_features); }

Status Frontend::set_protocol_features(uint64_t f) {
  // Sent without NEED_REPLY: whether REPLY_ACK applies is what this message decides.
  if (!channel_.valid()) return Error("vhost-user front-end is not connected");
  if (auto s = channel_.send(make_message(Request::set_protocol_features, f), {}, reply_timeout_); !s) return s;
  protocol_features_ = f;
  return {};
}

Result<uint64_t> Frontend::get_queue_num() { return get_u64(Request::get_queue_num); }
Result<uint64_t> Frontend::get_max_mem_slots() { return get_u64(Request::get_max_mem_slots); }
Status Frontend::set_owner() { return request(make_message(Request::set_owner)); }
Status Frontend::reset_owner() { return request(make_message(Request::reset_owner)); }

Status Frontend::set_mem_table(std::span<const RegionSpec> regions) {
  if (regions.empty() || regions.size() > kMaxMemTableRegions)
    return Error("SET_MEM_TABLE takes 1 to " + std::to_string(kMaxMemTableRegions) + " regions, got " + std::to_string(regions.size()));
  Message m = make_message(Request::set_mem_table);
  MemTableHeader h{static_cast<uint32_t>(regions.size()), 0};
  m.payload.resize(sizeof(h) + regions.size() * sizeof(MemRegion));
  std::memcpy(m.payload.data(), &h, sizeof(h));
  std::vector<int> fds;
  for (size_t i = 0; i < regions.size(); ++i) {
    MemRegion w = to_wire(regions[i]);
    std::memcpy(m.payload.data() + sizeof(h) + i * sizeof(w), &w, sizeof(w));
    fds.push_back(regions[i].fd);
  }
  return request(std::move(m), fds);
}

Status Frontend::add_mem_reg(const RegionSpec& r) {
  int fd = r.fd;
  return request(make_message(Request::add_mem_reg, SingleMemRegion{0, to_wire(r)}), std::span<const int>(&fd, 1));
}

Status Frontend::rem_mem_reg(const RegionSpec& r) {
  return request(make_message(Request::rem_mem_reg, SingleMemRegion{0, to_wire(r)}));
}

Status Frontend::set_vring_num(uint16_t index, uint16_t num) {
  return request(make_message(Request::set_vring_num, VringState{index, num}));
}

Status Frontend::set_vring_addr(uint16_t index, const VringAddresses& a) {
  return request(make_message(Request::set_vring_addr, VringAddr{index, a.flags, a.desc, a.used, a.avail, a.log}));
}

Status Frontend::set_vring_base(uint16_t index, uint16_t base) {
  return request(make_message(Request::set_vring_base, VringState{index, base}));
}

Result<uint16_t> Frontend::get_vring_base(uint16_t index) {
  auto reply = request_reply(make_message(Request::get_vring_base, VringState{index, 0}), sizeof(VringState));
  if (!reply) return reply.error();
  auto st = reply->as<VringState>();
  if (st.index != index) return Error("GET_VRING_BASE reply names ring " + std::to_string(st.index) + ", asked for " + std::to_string(index));
  return static_cast<uint16_t>(st.num);
}

Status Frontend::set_vring_fd(Request r, uint16_t index, int fd) {
  if (index > kVringIndexMask) return Error(name_of(r) + ": ring index " + std::to_string(index) + " does not fit in 8 bits");
  if (fd < 0) return set_u64(r, index | kVringNoFd);
  return set_u64(r, index, std::span<const int>(&fd, 1));
}

Status Frontend::set_vring_kick(uint16_t index, int fd) { return set_vring_fd(Request::set_vring_kick, index, fd); }
Status Frontend::set_vring_call(uint16_t index, int fd) { return set_vring_fd(Request::set_vring_call, index, fd); }
Status Frontend::set_vring_err(uint16_t index, int fd) { return set_vring_fd(Request::set_vring_err, index, fd); }

Status Frontend::set_vring_enable(uint16_t index, bool enable) {
  return request(make_message(Request::set_vring_enable, VringState{index, enable ? 1u : 0u}));
}

Status Frontend::net_set_mtu(uint16_t mtu) { return set_u64(Request::net_set_mtu, mtu); }

Status Frontend::send_rarp(const uint8_t mac[6]) {
  uint64_t v = 0;
  std::memcpy(&v, mac, 6);
  return set_u64(Request::send_rarp, v);
}

Result<uint8_t> Frontend::get_status() {
  auto v = get_u64(Request::get_status);
  if (!v) return v.error();
  return static_cast<uint8_t>(v.value());
}

Status Frontend::set_status(uint8_t status) { return set_u64(Request::set_status, status); }

Result<Negotiated> Frontend::bring_up(const BringUpConfig& cfg) {
  Negotiated n;
  auto offered = get_features();
  if (!offered) return offered.error();
  const bool has_protocol = virtio::has(offered.value(), virtio::kFProtocolFeatures);
  if (has_protocol) {
    auto pf = get_protocol_features();
    if (!pf) return pf.error();
    n.protocol_features = pf.value() & cfg.protocol_features & kSupportedProtocolFeatures;
    if (auto s = set_protocol_features(n.protocol_features); !s) return s.error();
  }
  if (n.protocol_features & protocol::bit(protocol::kMq)) {
    auto q = get_queue_num();
    if (!q) return q.error();
    n.queue_pairs = q.value();
  }
  for (const auto& r : cfg.rings)
    if (r.index / 2u >= n.queue_pairs)
      return Error("ring " + std::to_string(r.index) + " needs queue pair " + std::to_string(r.index / 2) + " but the back-end has " +
                   std::to_string(n.queue_pairs));
  if (auto s = set_owner(); !s) return s.error();
  n.features = (offered.value() & cfg.driver_features) | (offered.value() & virtio::bit(virtio::kFProtocolFeatures));
  if (auto s = set_features(n.features); !s) return s.error();
  // With PROTOCOL_F_STATUS a back-end may wait for DRIVER_OK before it treats the device as
  // ready (DPDK does), so report the status steps as QEMU does.
  const bool status = (n.protocol_features & protocol::bit(protocol::kStatus)) != 0;
  constexpr uint8_t kAcknowledge = 1, kDriver = 2, kDriverOk = 4, kFeaturesOk = 8;
  if (status)
    if (auto s = set_status(kAcknowledge | kDriver | kFeaturesOk); !s) return s.error();
  if (auto s = set_mem_table(cfg.regions); !s) return s.error();
  if (cfg.mtu && virtio::has(n.features, virtio::kNetFMtu) && (n.protocol_features & protocol::bit(protocol::kNetMtu)))
    if (auto s = net_set_mtu(*cfg.mtu); !s) return s.error();
  for (const auto& r : cfg.rings) {
    if (auto s = set_vring_num(r.index, r.size); !s) return s.error();
    if (auto s = set_vring_base(r.index, r.base); !s) return s.error();
    if (auto s = set_vring_addr(r.index, r.addr); !s) return s.error();
    if (auto s = set_vring_call(r.index, r.call_fd); !s) return s.error();
    if (auto s = set_vring_kick(r.index, r.kick_fd); !s) return s.error();
    // Without PROTOCOL_FEATURES rings are enabled as soon as they start.
    if (has_protocol)
      if (auto s = set_vring_enable(r.index, r.enable); !s) return s.error();
  }
  if (status)
    if (auto s = set_status(kAcknowledge | kDriver | kFeaturesOk | kDriverOk); !s) return s.error();
  return n;
}

Result<std::vector<uint16_t>> Frontend::stop_rings(std::span<const uint16_t> indexes) {
  std::vector<uint16_t> bases;
  for (uint16_t i : indexes) {
    if (virtio::has(features_, virtio::kFProtocolFeatures))
      if (auto s = set_vring_enable(i, false); !s) return s.error();
    auto b = get_vring_base(i);
    if (!b) return b.error();
    bases.push_back(b.value());
  }
  return bases;
}

}  // namespace vnet::vhost_user
