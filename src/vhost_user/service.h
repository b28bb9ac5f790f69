// The vhost-user control thread of a process: one epoll loop over the listening sockets and
// connections of every endpoint (one endpoint = one device = one socket path). vnetd creates
// one Service and adds an endpoint per vhost-user port.
//
// Server mode (default): listens on the path (a stale socket is replaced; anything else there is
// refused), serves one connection at a time (a second one is closed right away), and after a
// disconnect resets the device and waits for the next front-end (QEMU reconnect=1).
// Client mode: connects to the path, retrying with exponential backoff, and again after every
// disconnect (a front-end listening, e.g. QEMU with server=on).
//
// All methods are thread-safe. DeviceBackend hooks run on the control thread, or on the thread
// calling remove_endpoint()/~Service(); they must not call back into the Service.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "base/epoll.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/qsbr.h"
#include "vhost_user/backend_connection.h"
#include "vhost_user/device_backend.h"

namespace vnet::vhost_user {

struct EndpointConfig {
  std::string path;
  bool client_mode = false;
  uint32_t socket_mode = 0660;  // server mode: permissions of the socket file
  std::chrono::milliseconds reconnect_min{100};   // client mode backoff
  std::chrono::milliseconds reconnect_max{5000};
};

using EndpointId = uint64_t;

struct EndpointState {
  bool connected = false;
  uint64_t connections = 0;  // connections served so far (accepted or established)
  uint64_t rejected = 0;     // extra connections closed because one was active
  std::string last_error;    // why the last connection ended or the last connect failed
};

class Service {
 public:
  static Result<std::unique_ptr<Service>> start(Qsbr& qsbr = Qsbr::global());
  ~Service();  // removes every endpoint, then stops the thread
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Server mode: the socket is listening when this returns. Client mode: the first connect is
  // tried before returning (failure only schedules a retry). `device` must outlive the endpoint.
  Result<EndpointId> add_endpoint(const EndpointConfig& config, DeviceBackend& device);
  // Synchronous: when it returns the connection is closed, every ring stopped, the device reset
  // and our socket file unlinked (server mode).
  Status remove_endpoint(EndpointId id);

  Result<EndpointState> state(EndpointId id) const;
  // Waits until the endpoint is connected (or not), up to `timeout`. False on timeout.
  bool wait_connected(EndpointId id, bool connected, std::chrono::milliseconds timeout) const;
  // Waits until at least `n` connections have been served by the endpoint.
  bool wait_connections(EndpointId id, uint64_t n, std::chrono::milliseconds timeout) const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Endpoint;
  enum class Kind : uint8_t { listener, connection };
  struct Registration {
    EndpointId id;
    Kind kind;
  };

  Service(Qsbr& qsbr, Epoll epoll, UniqueFd wake);
  void run();
  void wake();
  uint64_t register_fd(int fd, EndpointId id, Kind kind);
  void unregister_fd(uint64_t& token, int fd);
  void on_listener(Endpoint& ep);
  void on_connection(Endpoint& ep);
  void try_connect(Endpoint& ep);
  void drop_connection(Endpoint& ep, const std::string& why);
  // A guest memory mapping faulted (mem/sigbus_guard.h): drop the connections it belongs to.
  void drop_truncating_frontends();
  void attach(Endpoint& ep, UniqueFd fd);
  int next_timeout_ms() const;

  Qsbr& qsbr_;
  Epoll epoll_;
  UniqueFd wake_fd_;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  bool stopping_ = false;
  EndpointId next_id_ = 1;
  uint64_t next_token_ = 1;
  std::map<EndpointId, std::unique_ptr<Endpoint>> endpoints_;
  std::unordered_map<uint64_t, Registration> tokens_;
  std::thread thread_;
};

}  // namespace vnet::vhost_user
