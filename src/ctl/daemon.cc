#include "ctl/daemon.h"

#include <fmt/format.h>

#include "base/log.h"

namespace vnet::ctl {
namespace {

dataplane::PollMode to_dataplane(PollMode m) {
  switch (m) {
    case PollMode::busy: return dataplane::PollMode::busy;
    case PollMode::interrupt: return dataplane::PollMode::interrupt;
    case PollMode::adaptive: break;
  }
  return dataplane::PollMode::adaptive;
}

sw::VlanConfig vlan_config(const PortSpec& s) {
  return s.trunk.empty() ? sw::VlanConfig::access(s.vlan) : sw::VlanConfig::trunk(s.trunk);
}

}  // namespace

Daemon::Daemon(DaemonConfig config) : config_(std::move(config)) {}

Result<std::unique_ptr<Daemon>> Daemon::start(const DaemonConfig& config) {
  if (auto st = validate_config(config); !st) return st.error();
  std::unique_ptr<Daemon> d(new Daemon(config));
  if (auto st = d->init(); !st) return st.error();
  return d;
}

Status Daemon::init() {
  for (const auto& b : config_.bridges) {
    sw::BridgeOptions o;
    o.name = b.name;
    o.max_entries = b.max_entries;
    o.max_entries_per_port = b.max_entries_per_port;
    o.aging_ms = uint64_t{b.aging_seconds} * 1000;
    auto br = std::make_unique<sw::Bridge>(o);
    if (auto st = bridge_set_.add_bridge(br.get()); !st) return st;
    bridges_[b.name] = std::move(br);
  }
  dataplane::DatapathOptions dopt;
  dopt.threads = config_.pmd_threads;
  dopt.cores = config_.pmd_cores;
  dopt.mode = to_dataplane(config_.poll_mode);
  dopt.adaptive_idle_us = config_.idle_us;
  auto dp = dataplane::Datapath::create(bridge_set_, dopt);
  if (!dp) return Error("poll threads: " + dp.error().message());
  datapath_ = std::move(dp.value());
  auto svc = vhost_user::Service::start();
  if (!svc) return Error("vhost-user service: " + svc.error().message());
  service_ = std::move(svc.value());

  for (const auto& p : config_.ports)
    if (auto st = add_port(p); !st) return st;

  auto ctl = ControlServer::start(config_.ctl_path, config_.ctl_mode,
                                  [this](const std::string& cmd, const Json& args) { return handle(cmd, args); });
  if (!ctl) return ctl.error();
  control_ = std::move(ctl.value());
  housekeeping_ = std::thread([this] { housekeeping_loop(); });
  log::info("vnetd: {} bridge(s), {} port(s), {} poll thread(s) in {} mode, control socket {}", bridges_.size(),
            ports_.size(), config_.pmd_threads, to_string(config_.poll_mode), config_.ctl_path);
  return {};
}

Daemon::~Daemon() {
  control_.reset();  // no new requests
  {
    std::lock_guard lock(hk_mu_);
    stopping_ = true;
  }
  hk_cv_.notify_all();
  if (housekeeping_.joinable()) housekeeping_.join();
  std::vector<std::string> names;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, e] : ports_) names.push_back(name);
  }
  for (const auto& n : names) {
    if (auto st = del_port(n); !st) log::warn("stopping port {}: {}", n, st.error().message());
  }
  service_.reset();
  datapath_.reset();
  for (auto& [n, b] : bridges_) (void)bridge_set_.remove_bridge(b.get());
  log::info("vnetd: stopped");
}

void Daemon::housekeeping_loop() {
  // Frees aged-out FDB slots about once a second (lookups ignore stale entries on their own).
  std::unique_lock lock(hk_mu_);
  while (!stopping_) {
    hk_cv_.wait_for(lock, std::chrono::seconds(1));
    bridge_set_.expire();
  }
}

Status Daemon::add_port(const PortSpec& spec) {
  if (auto st = validate_port_spec(spec); !st) return st;
  std::lock_guard lock(mu_);
  if (ports_.count(spec.name)) return Error(fmt::format("port '{}' exists already", spec.name));
  auto br = bridges_.find(spec.bridge);
  if (br == bridges_.end()) return Error(fmt::format("no bridge named '{}'", spec.bridge));
  for (const auto& [n, e] : ports_) {
    if (spec.kind == PortKind::vhost_user && e.spec.kind == PortKind::vhost_user && e.spec.path == spec.path)
      return Error(fmt::format("socket {} is used by port '{}'", spec.path, n));
    if (spec.kind == PortKind::tap && e.spec.kind == PortKind::tap && e.spec.ifname == spec.ifname)
      return Error(fmt::format("interface {} is used by port '{}'", spec.ifname, n));
  }

  PortEntry e;
  e.spec = spec;
  e.bridge = br->second.get();
  if (spec.kind == PortKind::vhost_user) {
    device::DeviceConfig dc;
    dc.name = spec.name;
    dc.queue_pairs = spec.queues;
    e.vhost = std::make_unique<ports::VhostUserPort>(dc);
  } else {
    ports::TapConfig tc;
    tc.name = spec.ifname;
    tc.queues = spec.queues;
    tc.mtu = config_.mtu;
    auto tap = ports::TapPort::open(tc);
    if (!tap) return Error(fmt::format("port '{}': {}", spec.name, tap.error().message()));
    e.tap = std::move(tap.value());
  }
  dataplane::Port* port = e.port();
  if (auto st = bridge_set_.add_port(e.bridge, port, vlan_config(spec)); !st)
    return Error(fmt::format("port '{}': {}", spec.name, st.error().message()));
  if (auto st = datapath_->add_port(port); !st) {
    (void)bridge_set_.remove_port(port);
    return Error(fmt::format("port '{}': {}", spec.name, st.error().message()));
  }
  if (e.vhost) {
    vhost_user::EndpointConfig ec;
    ec.path = spec.path;
    ec.client_mode = spec.client;
    ec.socket_mode = spec.socket_mode;
    auto id = service_->add_endpoint(ec, e.vhost->device());
    if (!id) {
      (void)datapath_->remove_port(port);
      (void)bridge_set_.remove_port(port);
      return Error(fmt::format("port '{}': {}", spec.name, id.error().message()));
    }
    e.endpoint = id.value();
  }
  log::info("port {} added: {}", spec.name, format_port_spec(spec));
  ports_.emplace(spec.name, std::move(e));
  return {};
}

Status Daemon::del_port(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = ports_.find(name);
  if (it == ports_.end()) return Error(fmt::format("no port named '{}'", name));
  PortEntry& e = it->second;
  dataplane::Port* port = e.port();
  // Nothing new is forwarded to the port, then no thread polls it, then the front-end goes:
  // rings are stopped with every popped chain completed, so used idx == last avail idx.
  (void)datapath_->remove_port(port);
  (void)bridge_set_.remove_port(port);
  if (e.vhost) (void)service_->remove_endpoint(e.endpoint);
  ports_.erase(it);
  log::info("port {} removed", name);
  return {};
}

Json Daemon::show() const {
  std::lock_guard lock(mu_);
  Json ports = Json::array();
  for (const auto& [name, e] : ports_) {
    std::string state;
    if (e.vhost) {
      auto st = service_->state(e.endpoint);
      bool connected = st && st->connected;
      state = connected ? (e.vhost->num_queues() ? "running" : "connected") : "waiting";
      if (e.vhost->device().has_ring_error()) state = "ring-error";
    } else {
      state = e.tap->up() ? "up" : "device-gone";
    }
    ports.push_back({{"name", name},
                     {"type", to_string(e.spec.kind)},
                     {"bridge", e.spec.bridge},
                     {"vlan", e.spec.trunk.empty() ? fmt::format("{}", e.spec.vlan) : sw::VlanConfig::trunk(e.spec.trunk).describe()},
                     {"state", state},
                     {"queues", fmt::format("{}/{}", e.port()->num_queues(), e.spec.queues)},
                     {"spec", format_port_spec(e.spec)}});
  }
  Json threads = Json::array();
  for (const auto& t : datapath_->threads()) {
    Json qs = Json::array();
    for (const auto& q : t.queues) qs.push_back(fmt::format("{}:{}", q.port, q.queue));
    threads.push_back({{"id", t.index}, {"core", t.core}, {"queues", qs}});
  }
  // Bridges: FDB fill and why addresses could not be learned (summed over the bridge's ports;
  // `stats` has them per port). Keys are only ever added, never renamed.
  Json bridges = Json::array();
  for (const auto& [n, b] : bridges_) {
    auto c = b->counters();
    auto bports = b->ports();
    Json br = {{"name", n}, {"fdb_entries", c.fdb_entries}, {"fdb_capacity", c.fdb_capacity},
               {"aging_seconds", b->aging_ms() / 1000}, {"port_count", bports.size()},
               {"unknown_ingress", c.unknown_ingress}};
    for (const auto& bc : config_.bridges)
      if (bc.name == n) br["fdb_capacity_per_port"] = bc.max_entries_per_port;
    uint64_t learn_fail = 0;
    for (size_t f = 0; f < sw::kLearnFailures; ++f) {
      uint64_t v = 0;
      for (const auto& p : bports) v += p.counters.learn_failures[f];
      br[std::string("learn_fail_") + std::string(sw::to_string(static_cast<sw::LearnFailure>(f)))] = v;
      learn_fail += v;
    }
    br["learn_fail"] = learn_fail;
    bridges.push_back(std::move(br));
  }
  return {{"poll_mode", std::string(dataplane::to_string(datapath_->poll_mode()))}, {"ports", ports}, {"threads", threads}, {"bridges", bridges}};
}

Json Daemon::fdb() const {
  Json entries = Json::array();
  for (const auto& [n, b] : bridges_) {
    for (const auto& e : b->fdb())
      entries.push_back({{"bridge", n}, {"vlan", e.vlan}, {"mac", sw::mac_to_string(e.mac)}, {"port", e.port}, {"age", e.age_ms / 1000}});
  }
  return {{"entries", entries}};
}

Result<Json> Daemon::stats(const std::string& port) const {
  std::lock_guard lock(mu_);
  Json out = Json::array();
  for (const auto& [name, e] : ports_) {
    if (!port.empty() && name != port) continue;
    out.push_back(port_stats(e));
  }
  if (!port.empty() && out.empty()) return Error(fmt::format("no port named '{}'", port));
  return Json{{"ports", out}};
}

Status Daemon::set(const std::string& key, const std::string& value) {
  if (key == "log-level") {
    auto l = log::parse_level(value);
    if (!l) return Error("log-level must be debug, info, warn, error or off");
    log::set_level(*l);
    return {};
  }
  if (key == "aging") {
    char* end = nullptr;
    unsigned long s = std::strtoul(value.c_str(), &end, 10);
    if (value.empty() || *end || s < 1 || s > 86400u * 365) return Error("aging must be 1 to 31536000 seconds");
    for (auto& [n, b] : bridges_) b->set_aging_ms(uint64_t{s} * 1000);
    return {};
  }
  if (key == "poll-mode") {
    auto m = parse_poll_mode(value);
    if (!m) return m.error();
    datapath_->set_poll_mode(to_dataplane(m.value()));
    return {};
  }
  return Error(fmt::format("unknown setting '{}' (log-level, aging, poll-mode)", key));
}

Result<Json> Daemon::handle(const std::string& cmd, const Json& args) {
  if (cmd == "show") return show();
  if (cmd == "stats") return stats(args.value("port", std::string()));
  if (cmd == "fdb") return fdb();
  if (cmd == "add-port") {
    auto spec = parse_port_spec(args.at("spec").get<std::string>());
    if (!spec) return spec.error();
    if (auto st = add_port(spec.value()); !st) return st.error();
    return Json{{"name", spec->name}};
  }
  if (cmd == "del-port") {
    if (auto st = del_port(args.at("name").get<std::string>()); !st) return st.error();
    return Json::object();
  }
  if (cmd == "set") {
    if (auto st = set(args.at("key").get<std::string>(), args.at("value").get<std::string>()); !st) return st.error();
    return Json::object();
  }
  return Error(fmt::format("unknown command '{}'", cmd));
}

}  // namespace vnet::ctl
