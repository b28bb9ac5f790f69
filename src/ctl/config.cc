#include "ctl/config.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace vnet::ctl {
namespace {

// "file:line: reason" for a node of the parsed document.
Error at(std::string_view source, const toml::node* node, const std::string& reason) {
  if (node && node->source().begin.line > 0)
    return Error(fmt::format("{}:{}: {}", source, node->source().begin.line, reason));
  return Error(fmt::format("{}: {}", source, reason));
}

// Reads an integer field within [lo, hi]; absent fields keep their default.
template <class T>
Status read_int(std::string_view src, const toml::table& t, std::string_view key, T& out, int64_t lo, int64_t hi) {
  const toml::node* n = t.get(key);
  if (!n) return {};
  auto v = n->value<int64_t>();
  if (!v || !n->is_integer()) return at(src, n, fmt::format("'{}' must be an integer", key));
  if (*v < lo || *v > hi) return at(src, n, fmt::format("'{}' must be between {} and {}", key, lo, hi));
  out = static_cast<T>(*v);
  return {};
}

Status read_str(std::string_view src, const toml::table& t, std::string_view key, std::string& out) {
  const toml::node* n = t.get(key);
  if (!n) return {};
  if (!n->is_string()) return at(src, n, fmt::format("'{}' must be a string", key));
  out = *n->value<std::string>();
  return {};
}

Status read_bool(std::string_view src, const toml::table& t, std::string_view key, bool& out) {
  const toml::node* n = t.get(key);
  if (!n) return {};
  if (!n->is_boolean()) return at(src, n, fmt::format("'{}' must be true or false", key));
  out = *n->value<bool>();
  return {};
}

// Octal permission given as a string ("0660") so that TOML's decimal integers don't surprise.
Status read_mode(std::string_view src, const toml::table& t, std::string_view key, uint32_t& out) {
  std::string s;
  if (auto st = read_str(src, t, key, s); !st) return st;
  if (s.empty()) return {};
  char* end = nullptr;
  unsigned long v = std::strtoul(s.c_str(), &end, 8);
  if (*end != '\0' || v > 0777) return at(src, t.get(key), fmt::format("'{}' must be an octal mode like \"0660\"", key));
  out = static_cast<uint32_t>(v);
  return {};
}

Status check_keys(std::string_view src, const toml::table& t, std::initializer_list<std::string_view> allowed,
                  std::string_view where) {
  for (auto&& [k, v] : t) {
    bool known = false;
    for (auto a : allowed) known = known || a == k.str();
    if (!known) return at(src, &v, fmt::format("unknown key '{}' in {}", k.str(), where));
  }
  return {};
}

#define VNET_TRY(expr)            \
  do {                            \
    auto _st = (expr);            \
    if (!_st) return _st.error(); \
  } while (0)

Result<PortSpec> parse_port(std::string_view src, const toml::table& t) {
  VNET_TRY(check_keys(src, t, {"name", "type", "path", "ifname", "client", "queues", "vlan", "trunk", "bridge", "socket_mode"}, "[[port]]"));
  PortSpec p;
  std::string type;
  VNET_TRY(read_str(src, t, "type", type));
  if (type == "vhost-user") p.kind = PortKind::vhost_user;
  else if (type == "tap") p.kind = PortKind::tap;
  else return at(src, t.get("type") ? t.get("type") : &t, "port 'type' must be \"vhost-user\" or \"tap\"");
  VNET_TRY(read_str(src, t, "name", p.name));
  VNET_TRY(read_str(src, t, "path", p.path));
  VNET_TRY(read_str(src, t, "ifname", p.ifname));
  VNET_TRY(read_bool(src, t, "client", p.client));
  VNET_TRY(read_int(src, t, "queues", p.queues, 1, kMaxQueuePairs));
  VNET_TRY(read_int(src, t, "vlan", p.vlan, 1, 4094));
  VNET_TRY(read_str(src, t, "bridge", p.bridge));
  VNET_TRY(read_mode(src, t, "socket_mode", p.socket_mode));
  if (const toml::node* n = t.get("trunk")) {
    const toml::array* a = n->as_array();
    if (!a) return at(src, n, "'trunk' must be an array of VLAN ids");
    for (const auto& e : *a) {
      auto v = e.value<int64_t>();
      if (!v || *v < 1 || *v > 4094) return at(src, &e, "trunk VLAN ids must be integers 1 to 4094");
      p.trunk.push_back(static_cast<uint16_t>(*v));
    }
  }
  if (p.name.empty()) p.name = default_port_name(p);
  if (auto st = validate_port_spec(p); !st) return at(src, &t, "port: " + st.error().message());
  return p;
}

}  // namespace

std::string default_ctl_path() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (geteuid() != 0 && xdg && *xdg) return std::string(xdg) + "/vnetd/vnetd.sock";
  return "/run/vnetd/vnetd.sock";
}

DaemonConfig default_config() {
  DaemonConfig c;
  c.ctl_path = default_ctl_path();
  return c;
}

const char* to_string(PollMode m) {
  switch (m) {
    case PollMode::busy: return "busy";
    case PollMode::adaptive: return "adaptive";
    case PollMode::interrupt: return "interrupt";
  }
  return "?";
}

Result<PollMode> parse_poll_mode(std::string_view s) {
  if (s == "busy") return PollMode::busy;
  if (s == "adaptive") return PollMode::adaptive;
  if (s == "interrupt") return PollMode::interrupt;
  return Error(fmt::format("poll mode '{}' must be busy, adaptive or interrupt", s));
}

Status validate_config(const DaemonConfig& c) {
  if (c.pmd_threads < 1 || c.pmd_threads > 64) return Error("pmd threads must be 1 to 64");
  if (!c.pmd_cores.empty() && c.pmd_cores.size() != c.pmd_threads)
    return Error(fmt::format("{} pmd cores given for {} pmd threads", c.pmd_cores.size(), c.pmd_threads));
  long ncpu = sysconf(_SC_NPROCESSORS_CONF);
  for (int core : c.pmd_cores)
    if (core < 0 || core >= ncpu) return Error(fmt::format("pmd core {} does not exist (this machine has {})", core, ncpu));
  if (c.mtu < 68 || c.mtu > 65535 - 18) return Error("mtu must be 68 to 65517");
  std::set<std::string> bridges, names, paths;
  for (const auto& b : c.bridges)
    if (!bridges.insert(b.name).second) return Error(fmt::format("bridge '{}' defined twice", b.name));
  for (const auto& p : c.ports) {
    if (!names.insert(p.name).second) return Error(fmt::format("port name '{}' used twice", p.name));
    if (!bridges.count(p.bridge)) return Error(fmt::format("port '{}' refers to unknown bridge '{}'", p.name, p.bridge));
    const std::string& where = p.kind == PortKind::tap ? p.ifname : p.path;
    if (!paths.insert(std::string(to_string(p.kind)) + ":" + where).second)
      return Error(fmt::format("port '{}': {} used by two ports", p.name, where));
  }
  return {};
}

Result<DaemonConfig> parse_config(std::string_view text, std::string_view src) {
  toml::table doc;
  try {
    doc = toml::parse(text, src);
  } catch (const toml::parse_error& e) {
    return Error(fmt::format("{}:{}: {}", src, e.source().begin.line, e.description()));
  }
  DaemonConfig c = default_config();
  VNET_TRY(check_keys(src, doc, {"daemon", "datapath", "bridge", "port"}, "the top level"));
  if (const toml::node* n = doc.get("daemon")) {
    const toml::table* t = n->as_table();
    if (!t) return at(src, n, "[daemon] must be a table");
    VNET_TRY(check_keys(src, *t, {"ctl", "ctl_mode", "log_level", "mtu"}, "[daemon]"));
    VNET_TRY(read_str(src, *t, "ctl", c.ctl_path));
    VNET_TRY(read_mode(src, *t, "ctl_mode", c.ctl_mode));
    VNET_TRY(read_str(src, *t, "log_level", c.log_level));
    VNET_TRY(read_int(src, *t, "mtu", c.mtu, 68, 65517));
    if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" && c.log_level != "error")
      return at(src, t->get("log_level"), "log_level must be debug, info, warn or error");
  }
  if (const toml::node* n = doc.get("datapath")) {
    const toml::table* t = n->as_table();
    if (!t) return at(src, n, "[datapath] must be a table");
    VNET_TRY(check_keys(src, *t, {"pmd_threads", "pmd_cores", "poll_mode", "idle_us"}, "[datapath]"));
    VNET_TRY(read_int(src, *t, "pmd_threads", c.pmd_threads, 1, 64));
    VNET_TRY(read_int(src, *t, "idle_us", c.idle_us, 1, 1000000));
    std::string mode;
    VNET_TRY(read_str(src, *t, "poll_mode", mode));
    if (!mode.empty()) {
      auto m = parse_poll_mode(mode);
      if (!m) return at(src, t->get("poll_mode"), m.error().message());
      c.poll_mode = m.value();
    }
    if (const toml::node* cores = t->get("pmd_cores")) {
      const toml::array* a = cores->as_array();
      if (!a) return at(src, cores, "'pmd_cores' must be an array of core numbers");
      for (const auto& e : *a) {
        auto v = e.value<int64_t>();
        if (!v || *v < 0 || *v > 4095) return at(src, &e, "core numbers must be integers 0 to 4095");
        c.pmd_cores.push_back(static_cast<int>(*v));
      }
    }
  }
  if (const toml::node* n = doc.get("bridge")) {
    const toml::array* a = n->as_array();
    if (!a || !a->is_array_of_tables()) return at(src, n, "bridges are given as [[bridge]] tables");
    c.bridges.clear();
    for (const auto& e : *a) {
      const toml::table& t = *e.as_table();
      VNET_TRY(check_keys(src, t, {"name", "aging_seconds", "max_entries", "max_entries_per_port"}, "[[bridge]]"));
      BridgeConfig b;
      VNET_TRY(read_str(src, t, "name", b.name));
      VNET_TRY(read_int(src, t, "aging_seconds", b.aging_seconds, 1, 86400 * 365));
      VNET_TRY(read_int(src, t, "max_entries", b.max_entries, 1, 1 << 20));
      VNET_TRY(read_int(src, t, "max_entries_per_port", b.max_entries_per_port, 1, 1 << 20));
      if (b.name.empty()) return at(src, &t, "bridge name must not be empty");
      c.bridges.push_back(b);
    }
  }
  if (const toml::node* n = doc.get("port")) {
    const toml::array* a = n->as_array();
    if (!a || !a->is_array_of_tables()) return at(src, n, "ports are given as [[port]] tables");
    for (const auto& e : *a) {
      auto p = parse_port(src, *e.as_table());
      if (!p) return p.error();
      c.ports.push_back(std::move(p.value()));
    }
  }
  if (auto st = validate_config(c); !st) return Error(fmt::format("{}: {}", src, st.error().message()));
  return c;
}

Result<DaemonConfig> load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return sys_error("cannot read config file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace vnet::ctl
