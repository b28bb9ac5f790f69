// BackendConnection: the ring lifecycle (readiness predicate, start, stop) and the ring requests
// (SET_VRING_NUM/ADDR/BASE/KICK/CALL/ERR/ENABLE, GET_VRING_BASE).
#include <cstring>
#include <string>

#include "base/eventfd.h"
#include "base/log.h"
#include "vhost_user/backend_checks.h"
#include "vhost_user/backend_connection.h"
#include "virtio/ring_layout.h"

namespace vnet::vhost_user {
namespace {
std::string str(uint64_t v) { return std::to_string(v); }
}  // namespace

Result<BackendConnection::Vring*> BackendConnection::vring(uint32_t index, const Message& m) {
  if (index >= vrings_.size())
    return Error(std::string(request_name(m.hdr.request)) + ": ring index " + str(index) + " is not below the ring count " + str(vrings_.size()));
  return &vrings_[index];
}

Result<BackendConnection::RingPointers> BackendConnection::translate(const Vring& v, const MemoryTable* table) const {
  if (!table) return Error("no memory table");
  const VringAddr& a = *v.addr;
  RingPointers p{table->va_to_host(a.desc, virtio::desc_area_size(v.num)), table->va_to_host(a.avail, virtio::avail_area_size(v.num)),
                 table->va_to_host(a.used, virtio::used_area_size(v.num))};
  if (!p.desc) return Error(fmt::format("descriptor table at {:#x} ({} entries) is not inside guest memory", a.desc, v.num));
  if (!p.avail) return Error(fmt::format("avail ring at {:#x} ({} entries) is not inside guest memory", a.avail, v.num));
  if (!p.used) return Error(fmt::format("used ring at {:#x} ({} entries) is not inside guest memory", a.used, v.num));
  auto misaligned = [](uint8_t* ptr, size_t align) { return reinterpret_cast<uintptr_t>(ptr) % align != 0; };
  if (misaligned(p.desc, virtio::kDescAlign) || misaligned(p.avail, virtio::kAvailAlign) || misaligned(p.used, virtio::kUsedAlign))
    return Error("ring areas are not aligned as the virtio spec requires (16/2/4)");
  return p;
}

bool BackendConnection::effective_enable(const Vring& v) const {
  // Without PROTOCOL_FEATURES a ring is enabled as soon as it starts.
  return virtio::has(acked_features_, virtio::kFProtocolFeatures) ? v.enable_msg : true;
}

void BackendConnection::try_start(uint16_t index) {
  Vring& v = vrings_[index];
  if (v.started || !features_set_ || v.num == 0 || !v.addr || !v.kick_known) return;
  auto p = translate(v, memory_.current());
  if (!p) return;
  v.setup = VringSetup{};
  v.setup.index = index;
  v.setup.size = v.num;
  v.setup.desc = p->desc;
  v.setup.avail = p->avail;
  v.setup.used = p->used;
  v.setup.last_avail_idx = v.base;
  v.setup.kick_fd = v.kick.get();
  v.setup.call_fd = v.call.get();
  v.setup.err_fd = v.err.get();
  v.setup.enabled = effective_enable(v);
  log::debug("vhost-user {}: ring {} started (size {}, base {}, {}, {})", name_, index, v.num, v.base,
             v.kick ? "kick fd" : "polling", v.setup.enabled ? "enabled" : "disabled");
  device_.start_ring(v.setup);
  v.started = true;
  // Entries may sit in the avail ring with no kick coming: a kick consumed before enable, or a
  // back-end restarted under a running guest. A kick of our own makes the device look.
  if (v.kick) eventfd_signal(v.kick.get());
}

void BackendConnection::try_start_all() {
  for (uint16_t i = 0; i < vrings_.size(); ++i) try_start(i);
}

void BackendConnection::stop(uint16_t index) {
  Vring& v = vrings_[index];
  if (!v.started) return;
  v.base = device_.stop_ring(index);
  v.started = false;
  log::debug("vhost-user {}: ring {} stopped at {}", name_, index, v.base);
}

std::vector<uint16_t> BackendConnection::stop_all() {
  std::vector<uint16_t> stopped;
  for (uint16_t i = 0; i < vrings_.size(); ++i) {
    if (vrings_[i].started) {
      stop(i);
      stopped.push_back(i);
    }
  }
  return stopped;
}

void BackendConnection::restart(const std::vector<uint16_t>& indexes) {
  for (uint16_t i : indexes) {
    try_start(i);
    if (!vrings_[i].started) log::warn("vhost-user {}: ring {} does not translate in the new memory table; it stays stopped", name_, i);
  }
}

void BackendConnection::reset_state() {
  bool had_state = features_set_ || memory_.current() != nullptr;
  for (auto& v : vrings_) had_state |= v.started;
  stop_all();
  if (had_state) device_.reset();
  for (auto& v : vrings_) v = Vring{};
  memory_.replace(nullptr);
  acked_features_ = 0;
  features_set_ = false;
  acked_protocol_features_ = 0;
  owner_ = false;
  status_ = 0;
}

Status BackendConnection::on_set_vring_num(Message& m) {
  auto s = m.as<VringState>();
  auto v = vring(s.index, m);
  if (!v) return v.error();
  if (!virtio::is_valid_queue_size(s.num)) return Error("SET_VRING_NUM " + str(s.num) + " is not a power of two in 1..32768");
  if (v.value()->num == s.num) return {};
  // A new size on a running ring changes its layout: stop it and let it start again.
  stop(static_cast<uint16_t>(s.index));
  v.value()->num = static_cast<uint16_t>(s.num);
  try_start(static_cast<uint16_t>(s.index));
  return {};
}

Status BackendConnection::on_set_vring_addr(Message& m) {
  auto a = m.as<VringAddr>();
  auto v = vring(a.index, m);
  if (!v) return v.error();
  Vring& r = *v.value();
  if (a.flags & ~kVringFLog) return Error("SET_VRING_ADDR has unknown flags " + str(a.flags));
  // Check what can be checked now; with no table or size yet the check happens at start.
  if (memory_.current() && r.num != 0) {
    Vring probe;
    probe.num = r.num;
    probe.addr = a;
    if (auto p = translate(probe, memory_.current()); !p) return Error("SET_VRING_ADDR ring " + str(a.index) + ": " + p.error().message());
  }
  // Same areas again (QEMU toggles VHOST_VRING_F_LOG this way during migration): keep running.
  if (r.addr && r.addr->desc == a.desc && r.addr->avail == a.avail && r.addr->used == a.used) {
    r.addr = a;
    return {};
  }
  stop(static_cast<uint16_t>(a.index));
  r.addr = a;
  try_start(static_cast<uint16_t>(a.index));
  return {};
}

Status BackendConnection::on_set_vring_base(Message& m) {
  auto s = m.as<VringState>();
  auto v = vring(s.index, m);
  if (!v) return v.error();
  // Split ring: last_avail_idx is a free-running 16-bit index.
  if (s.num > 0xffff) return Error("SET_VRING_BASE " + str(s.num) + " does not fit a 16-bit ring index");
  stop(static_cast<uint16_t>(s.index));
  v.value()->base = static_cast<uint16_t>(s.num);
  try_start(static_cast<uint16_t>(s.index));
  return {};
}

Status BackendConnection::on_get_vring_base(Message& m) {
  auto s = m.as<VringState>();
  auto v = vring(s.index, m);
  if (!v) return v.error();
  // Stop, do not reset: the answer is where the ring stopped, and the ring state stays for a
  // later start. The next SET_VRING_KICK starts it again.
  stop(static_cast<uint16_t>(s.index));
  Vring& r = *v.value();
  r.kick_known = false;
  r.kick.reset();
  pending_reply_ = make_message(Request::get_vring_base, VringState{s.index, r.base});
  return {};
}

Result<BackendConnection::VringFdRequest> BackendConnection::vring_fd_request(Message& m) {
  const std::string_view name = request_name(m.hdr.request);
  const uint64_t u = m.u64();
  if (u & ~(kVringIndexMask | kVringNoFd)) return Error(fmt::format("{} has unknown bits {:#x}", name, u));
  auto v = vring(static_cast<uint32_t>(u & kVringIndexMask), m);
  if (!v) return v.error();
  UniqueFd fd;
  if (!m.fds.empty()) {
    if (auto s = check_eventfd(m.fds[0].get(), name); !s) return s.error();
    fd = std::move(m.fds[0]);
    make_nonblocking(fd.get());
  }
  return VringFdRequest{v.value(), static_cast<uint16_t>(u & kVringIndexMask), std::move(fd)};
}

Status BackendConnection::on_set_vring_kick(Message& m) {
  auto req = vring_fd_request(m);
  if (!req) return req.error();
  // A new kick fd for a running ring: the device re-registers it by restarting the ring.
  stop(req->index);
  req->vring->kick = std::move(req->fd);
  req->vring->kick_known = true;
  try_start(req->index);
  return {};
}

Status BackendConnection::on_set_vring_call(Message& m) {
  auto req = vring_fd_request(m);
  if (!req) return req.error();
  Vring& r = *req->vring;
  if (r.started) {
    // The device stops using the old fd before set_call_fd returns; only then is it closed.
    device_.set_call_fd(req->index, req->fd.get());
    r.setup.call_fd = req->fd.get();
  }
  r.call = std::move(req->fd);
  return {};
}

Status BackendConnection::on_set_vring_err(Message& m) {
  auto req = vring_fd_request(m);
  if (!req) return req.error();
  Vring& r = *req->vring;
  // A running ring holds the old fd's number: stop it before that fd is closed, and start it
  // again (from where it stopped) with the new one.
  const bool was_started = r.started;
  stop(req->index);
  r.err = std::move(req->fd);
  if (was_started) try_start(req->index);
  return {};
}

Status BackendConnection::on_set_vring_enable(Message& m) {
  auto s = m.as<VringState>();
  auto v = vring(s.index, m);
  if (!v) return v.error();
  if (s.num > 1) return Error("SET_VRING_ENABLE value " + str(s.num) + " is not 0 or 1");
  Vring& r = *v.value();
  // Accepted before SET_FEATURES: QEMU 7.2 enables queue pair 0 before any ring is set up.
  r.enable_msg = s.num == 1;
  if (r.started && r.setup.enabled != effective_enable(r)) {
    r.setup.enabled = effective_enable(r);
    device_.enable_ring(static_cast<uint16_t>(s.index), r.setup.enabled);
    // A kick that arrived while the ring was disabled must not be lost: make the device rescan.
    if (r.setup.enabled && r.kick) eventfd_signal(r.kick.get());
  }
  return {};
}

}  // namespace vnet::vhost_user
