// The running switch: bridges, ports, poll threads and the vhost-user service, wired together
// from a DaemonConfig, plus the operations the control socket exposes (show, stats, add-port,
// del-port, fdb, set). vnetd's main() is a thin shell around this class.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ctl/config.h"
#include "ctl/control_server.h"
#include "ctl/port_spec.h"
#include "dataplane/datapath.h"
#include "dataplane/port.h"
#include "ports/tap_port.h"
#include "ports/vhost_user_port.h"
#include "switch/bridge.h"
#include "switch/bridge_set.h"
#include "vhost_user/service.h"

namespace vnet::ctl {

class Daemon {
 public:
  // Starts poll threads, the vhost-user service, every configured port and the control socket.
  static Result<std::unique_ptr<Daemon>> start(const DaemonConfig& config);
  // Stops cleanly: control socket closed, every port removed (vhost-user rings stopped with
  // consistent indices, so QEMU guests keep running and reconnect later), threads joined.
  ~Daemon();

  Status add_port(const PortSpec& spec);
  Status del_port(const std::string& name);
  Json show() const;
  Result<Json> stats(const std::string& port) const;  // empty: every port
  Json fdb() const;
  Status set(const std::string& key, const std::string& value);

  // The control socket's request handler.
  Result<Json> handle(const std::string& cmd, const Json& args);
  const std::string& ctl_path() const { return config_.ctl_path; }

 private:
  struct PortEntry {
    PortSpec spec;
    std::unique_ptr<ports::VhostUserPort> vhost;
    std::unique_ptr<ports::TapPort> tap;
    vhost_user::EndpointId endpoint = 0;
    sw::Bridge* bridge = nullptr;
    dataplane::Port* port() const {
      return vhost ? static_cast<dataplane::Port*>(vhost.get()) : static_cast<dataplane::Port*>(tap.get());
    }
  };

  explicit Daemon(DaemonConfig config);
  Status init();
  Json port_stats(const PortEntry& e) const;
  void housekeeping_loop();

  DaemonConfig config_;
  std::map<std::string, std::unique_ptr<sw::Bridge>> bridges_;
  sw::BridgeSet bridge_set_;  // the Forwarder: routes each burst to its port's bridge
  std::unique_ptr<dataplane::Datapath> datapath_;
  std::unique_ptr<vhost_user::Service> service_;
  mutable std::mutex mu_;  // ports_ and the order of control operations
  std::map<std::string, PortEntry> ports_;
  std::unique_ptr<ControlServer> control_;
  std::thread housekeeping_;
  std::mutex hk_mu_;
  std::condition_variable hk_cv_;
  bool stopping_ = false;
};

}  // namespace vnet::ctl
