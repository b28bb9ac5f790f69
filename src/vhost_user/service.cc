#include "vhost_user/service.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include <fmt/format.h>

#include "base/eventfd.h"
#include "base/log.h"
#include "base/unix_socket.h"
#include "mem/sigbus_guard.h"

namespace vnet::vhost_user {

struct Service::Endpoint {
  EndpointId id;
  EndpointConfig config;
  DeviceBackend& device;
  UniqueFd listener;
  uint64_t listener_token = 0;
  dev_t socket_dev = 0;  // identity of the socket file we created, to unlink only our own
  ino_t socket_ino = 0;
  std::unique_ptr<BackendConnection> conn;
  uint64_t conn_token = 0;
  EndpointState state;
  // Client mode: when to try the next connect, and the backoff after it.
  std::optional<Clock::time_point> retry_at;
  std::chrono::milliseconds backoff{0};
};

namespace {

// epoll token of the SigbusGuard eventfd (connection tokens count up from 1; 0 is the wake fd).
constexpr uint64_t kSigbusToken = ~uint64_t{0};

// Non-blocking connect: a unix socket connect completes or fails at once (EAGAIN = backlog full),
// so the control thread never waits on a slow listener.
Result<UniqueFd> connect_nonblocking(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(a.sun_path)) return Error("socket path '" + path + "' is empty or too long");
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return sys_error("socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0) return sys_error("connect " + path);
  return fd;
}

}  // namespace

Result<std::unique_ptr<Service>> Service::start(Qsbr& qsbr) {
  auto ep = Epoll::create();
  if (!ep) return ep.error();
  auto wake = make_eventfd();
  if (!wake) return wake.error();
  if (auto s = ep->add(wake->get(), EPOLLIN, 0); !s) return s.error();
  // Edge-triggered and never drained: the eventfd is shared by every Service in the process,
  // and each must see every fault (each write is an edge for each epoll).
  if (SigbusGuard::install()) {
    if (auto s = ep->add(SigbusGuard::event_fd(), EPOLLIN | EPOLLET, kSigbusToken); !s) return s.error();
  } else {
    log::warn("vhost-user: no SIGBUS guard: a front-end that truncates its memory file would crash the process");
  }
  std::unique_ptr<Service> svc(new Service(qsbr, std::move(ep.value()), std::move(wake.value())));
  svc->thread_ = std::thread([s = svc.get()] { s->run(); });
  return svc;
}

Service::Service(Qsbr& qsbr, Epoll epoll, UniqueFd wake) : qsbr_(qsbr), epoll_(std::move(epoll)), wake_fd_(std::move(wake)) {}

Service::~Service() {
  std::vector<EndpointId> ids;
  {
    std::lock_guard lk(mu_);
    for (auto& [id, ep] : endpoints_) ids.push_back(id);
  }
  for (auto id : ids) (void)remove_endpoint(id);
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  wake();
  if (thread_.joinable()) thread_.join();
}

void Service::wake() { eventfd_signal(wake_fd_.get()); }

uint64_t Service::register_fd(int fd, EndpointId id, Kind kind) {
  uint64_t token = next_token_++;
  if (auto s = epoll_.add(fd, EPOLLIN, token); !s) {
    log::error("vhost-user: cannot watch fd: {}", s.error().message());
    return 0;
  }
  tokens_[token] = Registration{id, kind};
  return token;
}

void Service::unregister_fd(uint64_t& token, int fd) {
  if (token == 0) return;
  epoll_.remove(fd);
  tokens_.erase(token);
  token = 0;
}

Result<EndpointId> Service::add_endpoint(const EndpointConfig& config, DeviceBackend& device) {
  std::unique_lock lk(mu_);
  for (auto& [id, ep] : endpoints_)
    if (ep->config.path == config.path) return Error("vhost-user endpoint " + config.path + " exists already");
  auto ep = std::make_unique<Endpoint>(Endpoint{next_id_++, config, device});
  if (!config.client_mode) {
    auto l = listen_unix(config.path, config.socket_mode);
    if (!l) return l.error();
    struct stat st {};
    if (::lstat(config.path.c_str(), &st) == 0) {
      ep->socket_dev = st.st_dev;
      ep->socket_ino = st.st_ino;
    }
    ep->listener = std::move(l.value());
    ep->listener_token = register_fd(ep->listener.get(), ep->id, Kind::listener);
    log::info("vhost-user {}: listening (server mode)", config.path);
  } else {
    ep->backoff = config.reconnect_min;
    try_connect(*ep);
  }
  EndpointId id = ep->id;
  endpoints_[id] = std::move(ep);
  lk.unlock();
  wake();  // the loop recomputes its timeout
  return id;
}

Status Service::remove_endpoint(EndpointId id) {
  std::unique_lock lk(mu_);
  auto it = endpoints_.find(id);
  if (it == endpoints_.end()) return Error("no vhost-user endpoint " + std::to_string(id));
  Endpoint& ep = *it->second;
  if (ep.conn) drop_connection(ep, "endpoint removed");
  if (ep.listener) {
    unregister_fd(ep.listener_token, ep.listener.get());
    ep.listener.reset();
    struct stat st {};
    // Unlink only the socket we created, not one another process put there since.
    if (::lstat(ep.config.path.c_str(), &st) == 0 && st.st_dev == ep.socket_dev && st.st_ino == ep.socket_ino)
      ::unlink(ep.config.path.c_str());
  }
  log::info("vhost-user {}: endpoint removed", ep.config.path);
  endpoints_.erase(it);
  changed_.notify_all();
  return {};
}

Result<EndpointState> Service::state(EndpointId id) const {
  std::lock_guard lk(mu_);
  auto it = endpoints_.find(id);
  if (it == endpoints_.end()) return Error("no vhost-user endpoint " + std::to_string(id));
  return it->second->state;
}

bool Service::wait_connected(EndpointId id, bool connected, std::chrono::milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return changed_.wait_for(lk, timeout, [&] {
    auto it = endpoints_.find(id);
    return it != endpoints_.end() && it->second->state.connected == connected;
  });
}

bool Service::wait_connections(EndpointId id, uint64_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return changed_.wait_for(lk, timeout, [&] {
    auto it = endpoints_.find(id);
    return it != endpoints_.end() && it->second->state.connections >= n;
  });
}

void Service::attach(Endpoint& ep, UniqueFd fd) {
  ep.conn = std::make_unique<BackendConnection>(std::move(fd), ep.device, ep.config.path, qsbr_);
  ep.conn_token = register_fd(ep.conn->fd(), ep.id, Kind::connection);
  ep.state.connected = true;
  ep.state.connections++;
  ep.retry_at.reset();
  ep.backoff = ep.config.reconnect_min;
  log::info("vhost-user {}: front-end connected (connection {})", ep.config.path, ep.state.connections);
  changed_.notify_all();
}

void Service::drop_connection(Endpoint& ep, const std::string& why) {
  if (!ep.conn) return;
  unregister_fd(ep.conn_token, ep.conn->fd());
  ep.conn->close();  // stops rings, resets the device, releases fds and mappings
  ep.conn.reset();
  ep.state.connected = false;
  ep.state.last_error = why;
  if (ep.config.client_mode) ep.retry_at = Clock::now() + ep.config.reconnect_min;
  changed_.notify_all();
}

void Service::drop_truncating_frontends() {
  for (auto& [id, ep] : endpoints_) {
    if (!ep->conn) continue;
    const MemoryTable* table = ep->conn->memory().current();
    const uint64_t lost = table ? table->sigbus_faults() : 0;
    if (lost == 0) continue;
    const std::string why = fmt::format(
        "the front-end truncated its guest memory under us ({} pages read as zeros); connection dropped", lost);
    log::error("vhost-user {}: {}", ep->config.path, why);
    drop_connection(*ep, why);
  }
}

void Service::on_listener(Endpoint& ep) {
  for (;;) {
    int fd = ::accept4(ep.listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        log::warn("vhost-user {}: accept: {}", ep.config.path, std::strerror(errno));
      return;
    }
    UniqueFd conn(fd);
    // The active connection may be gone already with its EOF not yet seen (a front-end that
    // reconnects at once, or another process probing whether the path is in use): look first.
    if (ep.conn) on_connection(ep);
    if (ep.conn) {
      // One device, one front-end: a second connection would fight over the same rings.
      log::warn("vhost-user {}: refusing a second connection while one is active", ep.config.path);
      ep.state.rejected++;
      continue;
    }
    attach(ep, std::move(conn));
  }
}

void Service::on_connection(Endpoint& ep) {
  if (!ep.conn) return;
  auto st = ep.conn->on_readable();
  if (!st) drop_connection(ep, st.error().message());
}

void Service::try_connect(Endpoint& ep) {
  auto fd = connect_nonblocking(ep.config.path);
  if (fd) {
    attach(ep, std::move(fd.value()));
    return;
  }
  if (ep.state.last_error != fd.error().message())
    log::info("vhost-user {}: {} (retrying every {} ms at most)", ep.config.path, fd.error().message(), ep.config.reconnect_max.count());
  ep.state.last_error = fd.error().message();
  ep.retry_at = Clock::now() + ep.backoff;
  ep.backoff = std::min(ep.backoff * 2, ep.config.reconnect_max);
}

int Service::next_timeout_ms() const {
  std::optional<Clock::time_point> next;
  for (auto& [id, ep] : endpoints_)
    if (ep->retry_at && (!next || *ep->retry_at < *next)) next = ep->retry_at;
  if (!next) return -1;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*next - Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(ms) + 1;
}

void Service::run() {
  std::array<epoll_event, 32> events;
  std::unique_lock lk(mu_);
  while (!stopping_) {
    int timeout = next_timeout_ms();
    lk.unlock();
    int n = epoll_.wait(events, timeout);
    lk.lock();
    for (int i = 0; i < n && !stopping_; ++i) {
      uint64_t token = events[i].data.u64;
      if (token == 0) {
        eventfd_drain(wake_fd_.get());
        continue;
      }
      if (token == kSigbusToken) {
        drop_truncating_frontends();
        continue;
      }
      // The fd may have been unregistered (endpoint removed) after epoll reported it.
      auto reg = tokens_.find(token);
      if (reg == tokens_.end()) continue;
      auto ep = endpoints_.find(reg->second.id);
      if (ep == endpoints_.end()) continue;
      if (reg->second.kind == Kind::listener)
        on_listener(*ep->second);
      else
        on_connection(*ep->second);
    }
    auto now = Clock::now();
    for (auto& [id, ep] : endpoints_)
      if (ep->config.client_mode && !ep->conn && ep->retry_at && *ep->retry_at <= now) try_connect(*ep);
  }
}

}  // namespace vnet::vhost_user
