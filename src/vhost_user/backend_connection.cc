// BackendConnection: connection lifecycle, message checks and dispatch, and the requests about
// features, ownership and status. Memory requests: backend_memory.cc; the ring lifecycle and
// ring requests: backend_vrings.cc.
#include "vhost_user/backend_connection.h"

#include <algorithm>
#include <string>

#include "base/eventfd.h"
#include "base/log.h"
#include "vhost_user/backend_checks.h"

namespace vnet::vhost_user {
namespace {
std::string str(uint64_t v) { return std::to_string(v); }
}  // namespace

BackendConnection::BackendConnection(UniqueFd socket, DeviceBackend& device, std::string name, Qsbr& qsbr)
    : name_(std::move(name)), device_(device), channel_(std::move(socket)), memory_(qsbr) {
  make_nonblocking(channel_.fd());
  uint16_t qps = std::clamp<uint16_t>(device_.max_queue_pairs(), 1, kBackendMaxQueuePairs);
  vrings_.resize(2u * qps);
  offered_features_ = device_.device_features() | virtio::bit(virtio::kFProtocolFeatures);
  device_.attach_memory(&memory_);
}

BackendConnection::~BackendConnection() { close(); }

void BackendConnection::close() {
  if (channel_.valid()) log::info("vhost-user {}: connection closed", name_);
  reset_state();
  channel_.close();
}

Status BackendConnection::on_readable() {
  // Bounded so that one busy front-end cannot starve the other endpoints of the control thread;
  // epoll is level-triggered and reports the rest again.
  for (int handled = 0; handled < kMessagesPerWakeup; ++handled) {
    Message m;
    auto got = channel_.try_recv(m);
    Status st;
    if (!got) {
      st = got.error();
    } else if (!got.value()) {
      return {};
    } else {
      st = handle(std::move(m));
    }
    if (!st) {
      if (channel_.peer_closed())
        log::info("vhost-user {}: front-end disconnected", name_);
      else
        log::warn("vhost-user {}: closing connection: {}", name_, st.error().message());
      close();
      return st;
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Checks and dispatch

Status BackendConnection::check_shape(const Message& m, const RequestInfo& info) const {
  const size_t size = m.payload.size();
  const size_t nfds = m.fds.size();
  auto bad_size = [&] { return Error("payload of " + str(size) + " bytes is malformed for this request"); };
  switch (info.size) {
    case SizeRule::empty:
      if (size != 0) return bad_size();
      break;
    case SizeRule::u64:
    case SizeRule::vring_state:
      if (size != 8) return bad_size();
      break;
    case SizeRule::empty_or_u64:
      if (size != 0 && size != 8) return bad_size();
      break;
    case SizeRule::vring_addr:
      if (size != sizeof(VringAddr)) return bad_size();
      break;
    case SizeRule::single_region:
      if (size != sizeof(SingleMemRegion)) return bad_size();
      break;
    case SizeRule::mem_table: {
      if (size < sizeof(MemTableHeader)) return bad_size();
      auto h = m.as<MemTableHeader>();
      if (h.nregions == 0 || h.nregions > kMaxMemTableRegions)
        return Error("memory table with " + str(h.nregions) + " regions (1 to " + str(kMaxMemTableRegions) + " allowed)");
      // QEMU sends exactly the regions in use; a full 8-entry table is accepted too.
      if (size != sizeof(MemTableHeader) + h.nregions * sizeof(MemRegion) &&
          size != sizeof(MemTableHeader) + kMaxMemTableRegions * sizeof(MemRegion))
        return bad_size();
      break;
    }
    case SizeRule::any:
      break;
  }
  auto bad_fds = [&](size_t want) { return Error("carries " + str(nfds) + " fds, expected " + str(want)); };
  switch (info.fds) {
    case FdRule::none:
      if (nfds != 0) return bad_fds(0);
      break;
    case FdRule::one:
      if (nfds != 1) return bad_fds(1);
      break;
    case FdRule::optional_one:
      if (nfds > 1) return bad_fds(1);
      break;
    case FdRule::nofd_flag: {
      size_t want = (m.u64() & kVringNoFd) ? 0 : 1;
      if (nfds != want) return bad_fds(want);
      break;
    }
    case FdRule::per_region: {
      size_t want = m.as<MemTableHeader>().nregions;
      if (nfds != want) return bad_fds(want);
      break;
    }
  }
  return {};
}

BackendConnection::Handler BackendConnection::handler_for(Request r) {
  switch (r) {
    case Request::get_features: return &BackendConnection::on_get_features;
    case Request::set_features: return &BackendConnection::on_set_features;
    case Request::get_protocol_features: return &BackendConnection::on_get_protocol_features;
    case Request::set_protocol_features: return &BackendConnection::on_set_protocol_features;
    case Request::get_queue_num: return &BackendConnection::on_get_queue_num;
    case Request::set_owner: return &BackendConnection::on_set_owner;
    case Request::reset_owner: return &BackendConnection::on_reset_owner;
    case Request::set_mem_table: return &BackendConnection::on_set_mem_table;
    case Request::get_max_mem_slots: return &BackendConnection::on_get_max_mem_slots;
    case Request::add_mem_reg: return &BackendConnection::on_add_mem_reg;
    case Request::rem_mem_reg: return &BackendConnection::on_rem_mem_reg;
    case Request::set_vring_num: return &BackendConnection::on_set_vring_num;
    case Request::set_vring_addr: return &BackendConnection::on_set_vring_addr;
    case Request::set_vring_base: return &BackendConnection::on_set_vring_base;
    case Request::get_vring_base: return &BackendConnection::on_get_vring_base;
    case Request::set_vring_kick: return &BackendConnection::on_set_vring_kick;
    case Request::set_vring_call: return &BackendConnection::on_set_vring_call;
    case Request::set_vring_err: return &BackendConnection::on_set_vring_err;
    case Request::set_vring_enable: return &BackendConnection::on_set_vring_enable;
    case Request::send_rarp: return &BackendConnection::on_send_rarp;
    case Request::net_set_mtu: return &BackendConnection::on_net_set_mtu;
    case Request::set_status: return &BackendConnection::on_set_status;
    case Request::get_status: return &BackendConnection::on_get_status;
    default: return nullptr;
  }
}

Status BackendConnection::handle(Message m) {
  ++messages_;
  const auto name = request_name(m.hdr.request);
  log::debug("vhost-user {}: {} ({}) flags={:#x} size={} fds={}", name_, name, m.hdr.request, m.hdr.flags, m.payload.size(),
             m.fds.size());
  // A header we cannot trust leaves no safe way to answer.
  if ((m.hdr.flags & kVersionMask) != kVersion) return Error(std::string(name) + ": unsupported protocol version " + str(m.hdr.flags & kVersionMask));
  if (m.hdr.flags & ~kKnownFlags) return Error(fmt::format("{}: unknown header flags {:#x}", name, m.hdr.flags));
  if (m.hdr.flags & kFlagReply) return Error(std::string(name) + ": a front-end request has the REPLY flag set");

  auto info = request_info(m.hdr.request);
  const uint64_t proto_before = acked_protocol_features_;
  const bool always_replies = info && info->always_replies;
  pending_reply_.reset();

  Status st;
  if (!info) {
    st = Error("unknown request " + str(m.hdr.request));
  } else if (!info->supported) {
    st = Error(std::string(name) + " is not supported (its protocol feature is not offered)");
  } else if (auto shape = check_shape(m, *info); !shape) {
    st = shape;
  } else {
    st = (this->*handler_for(info->request))(m);
  }
  // Every error names its request, once.
  if (!st && st.error().message().rfind(name, 0) != 0) st = Error(std::string(name) + ": " + st.error().message(), st.error().sys_errno());
  m.fds.clear();  // every fd not taken by a handler is closed here

  // REPLY_ACK applies once negotiated, including by this very SET_PROTOCOL_FEATURES.
  const bool ack_negotiated = ((proto_before | acked_protocol_features_) & protocol::bit(protocol::kReplyAck)) != 0;
  const bool ack_wanted = ack_negotiated && m.need_reply() && !always_replies;
  if (!st) {
    // The front-end waits for the reply of an always-replying request; a failure reply would
    // be read as data, so the only safe answer is to close.
    if (!ack_wanted) return st;
    log::warn("vhost-user {}: refused {}", name_, st.error().message());
    return reply_u64(m, 1);
  }
  if (always_replies) {
    if (!pending_reply_) return Error(std::string(name) + ": internal error, no reply prepared");
    Message reply = std::move(*pending_reply_);
    pending_reply_.reset();
    return send_reply(m, std::move(reply));
  }
  if (ack_wanted) return reply_u64(m, 0);
  return {};
}

Status BackendConnection::send_reply(const Message& m, Message reply) {
  reply.hdr.request = m.hdr.request;
  reply.hdr.flags = kVersion | kFlagReply;
  return channel_.send(reply, {}, std::chrono::seconds(1));
}

Status BackendConnection::reply_u64(const Message& m, uint64_t value) { return send_reply(m, make_message(m.request(), value)); }

// ---------------------------------------------------------------------------------------------
// Features, ownership, status

Status BackendConnection::on_get_features(Message&) {
  pending_reply_ = make_message(Request::get_features, offered_features_);
  return {};
}

Status BackendConnection::on_set_features(Message& m) {
  uint64_t f = m.u64();
  if (f & ~offered_features_) return Error("SET_FEATURES acks features that were not offered: " + fmt::format("{:#x}", f & ~offered_features_));
  acked_features_ = f;
  features_set_ = true;
  device_.set_features(f);
  // Never stop running rings here (LOG_ALL toggles arrive this way during migration); only the
  // enable state can change meaning when PROTOCOL_FEATURES is acked or dropped.
  for (uint16_t i = 0; i < vrings_.size(); ++i) {
    Vring& v = vrings_[i];
    if (v.started && v.setup.enabled != effective_enable(v)) {
      v.setup.enabled = effective_enable(v);
      device_.enable_ring(i, v.setup.enabled);
      if (v.setup.enabled && v.kick) eventfd_signal(v.kick.get());
    }
  }
  try_start_all();
  return {};
}

Status BackendConnection::on_get_protocol_features(Message&) {
  pending_reply_ = make_message(Request::get_protocol_features, kBackendProtocolFeatures);
  return {};
}

Status BackendConnection::on_set_protocol_features(Message& m) {
  uint64_t f = m.u64();
  if (f & ~kBackendProtocolFeatures) return Error("SET_PROTOCOL_FEATURES acks features that were not offered: " + fmt::format("{:#x}", f & ~kBackendProtocolFeatures));
  acked_protocol_features_ = f;
  return {};
}

Status BackendConnection::on_get_queue_num(Message&) {
  pending_reply_ = make_message(Request::get_queue_num, uint64_t{vrings_.size() / 2});
  return {};
}

Status BackendConnection::on_set_owner(Message&) {
  owner_ = true;
  return {};
}

Status BackendConnection::on_reset_owner(Message&) {
  // Deprecated; treated like a device reset that keeps the connection and its protocol features.
  uint64_t proto = acked_protocol_features_;
  reset_state();
  acked_protocol_features_ = proto;
  device_.attach_memory(&memory_);
  return {};
}

Status BackendConnection::on_set_status(Message& m) {
  uint64_t s = m.u64();
  if (s > 0xff) return Error("SET_STATUS value " + str(s) + " does not fit the 8-bit device status");
  // SET_STATUS 0 (reset) deliberately keeps the rings: QEMU 7.2 sends it before GET_VRING_BASE
  // and expects the real last_avail_idx afterwards.
  status_ = static_cast<uint8_t>(s);
  return {};
}

Status BackendConnection::on_get_status(Message&) {
  pending_reply_ = make_message(Request::get_status, uint64_t{status_});
  return {};
}

Status BackendConnection::on_send_rarp(Message& m) {
  uint64_t v = m.u64();
  uint8_t mac[6];
  std::memcpy(mac, &v, 6);
  device_.send_rarp(mac);
  return {};
}

Status BackendConnection::on_net_set_mtu(Message& m) {
  uint64_t mtu = m.u64();
  if (mtu < 68 || mtu > 65535) return Error("NET_SET_MTU " + str(mtu) + " is outside 68..65535");
  device_.set_mtu(static_cast<uint16_t>(mtu));
  return {};
}

}  // namespace vnet::vhost_user
