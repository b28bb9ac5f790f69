#include "ctl/port_spec.h"

#include <net/if.h>

#include <charconv>

#include <fmt/format.h>

namespace vnet::ctl {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

template <class T>
bool parse_uint(std::string_view s, T& out, int base = 10) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size() || v > std::numeric_limits<T>::max()) return false;
  out = static_cast<T>(v);
  return true;
}

}  // namespace

std::string default_port_name(const PortSpec& s) {
  if (s.kind == PortKind::tap) return s.ifname;
  std::string_view p = s.path;
  if (auto slash = p.rfind('/'); slash != std::string_view::npos) p = p.substr(slash + 1);
  if (p.size() > 5 && p.substr(p.size() - 5) == ".sock") p = p.substr(0, p.size() - 5);
  return std::string(p);
}

const char* to_string(PortKind kind) { return kind == PortKind::tap ? "tap" : "vhost-user"; }

Status validate_port_spec(const PortSpec& s) {
  if (s.queues < 1 || s.queues > kMaxQueuePairs) return Error(fmt::format("queues must be 1 to {}", kMaxQueuePairs));
  if (s.vlan < 1 || s.vlan > 4094) return Error("vlan must be 1 to 4094");
  for (uint16_t v : s.trunk)
    if (v < 1 || v > 4094) return Error("trunk VLANs must be 1 to 4094");
  if (s.kind == PortKind::vhost_user) {
    if (s.path.empty()) return Error("vhost-user port needs a socket path");
    if (s.path.size() >= 108) return Error("socket path too long (max 107 bytes)");
    if (s.socket_mode > 0777) return Error("socket mode must be octal 0 to 0777");
  } else {
    if (s.ifname.empty()) return Error("tap port needs an interface name");
    if (s.ifname.size() >= IFNAMSIZ) return Error(fmt::format("interface name '{}' too long (max {} bytes)", s.ifname, IFNAMSIZ - 1));
    if (s.client) return Error("'client' applies to vhost-user ports only");
  }
  if (s.name.empty() || s.name.size() > 64) return Error("port name must be 1 to 64 characters");
  for (char c : s.name)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return Error(fmt::format("port name '{}' may only contain letters, digits, '-', '_' and '.'", s.name));
  if (s.bridge.empty()) return Error("bridge name must not be empty");
  return {};
}

Result<PortSpec> parse_port_spec(std::string_view text) {
  PortSpec s;
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return Error(fmt::format("port spec '{}': expected vhost-user:PATH or tap:IFNAME", text));
  std::string_view kind = text.substr(0, colon);
  auto fields = split(text.substr(colon + 1), ',');
  if (kind == "vhost-user") {
    s.kind = PortKind::vhost_user;
    s.path = std::string(fields[0]);
  } else if (kind == "tap") {
    s.kind = PortKind::tap;
    s.ifname = std::string(fields[0]);
  } else {
    return Error(fmt::format("port spec '{}': unknown port type '{}' (vhost-user or tap)", text, kind));
  }
  for (size_t i = 1; i < fields.size(); ++i) {
    std::string_view f = fields[i];
    auto eq = f.find('=');
    std::string_view key = f.substr(0, eq);
    std::string_view val = eq == std::string_view::npos ? std::string_view{} : f.substr(eq + 1);
    bool ok = true;
    if (key == "client" && eq == std::string_view::npos) s.client = true;
    else if (key == "server" && eq == std::string_view::npos) s.client = false;
    else if (key == "queues") ok = parse_uint(val, s.queues);
    else if (key == "name") s.name = std::string(val);
    else if (key == "vlan") ok = parse_uint(val, s.vlan);
    else if (key == "bridge") s.bridge = std::string(val);
    else if (key == "mode") ok = parse_uint(val, s.socket_mode, 8);
    else if (key == "trunk") {
      for (auto v : split(val, '+')) {
        uint16_t id = 0;
        if (!(ok = parse_uint(v, id))) break;
        s.trunk.push_back(id);
      }
    } else {
      return Error(fmt::format("port spec '{}': unknown option '{}'", text, f));
    }
    if (!ok) return Error(fmt::format("port spec '{}': bad value in '{}'", text, f));
  }
  if (s.name.empty()) s.name = default_port_name(s);
  if (auto st = validate_port_spec(s); !st) return Error(fmt::format("port spec '{}': {}", text, st.error().message()));
  return s;
}

std::string format_port_spec(const PortSpec& s) {
  std::string out = fmt::format("{}:{}", to_string(s.kind), s.kind == PortKind::tap ? s.ifname : s.path);
  if (s.client) out += ",client";
  out += fmt::format(",queues={},name={},bridge={}", s.queues, s.name, s.bridge);
  if (s.trunk.empty()) {
    out += fmt::format(",vlan={}", s.vlan);
  } else {
    out += ",trunk=";
    for (size_t i = 0; i < s.trunk.size(); ++i) out += fmt::format("{}{}", i ? "+" : "", s.trunk[i]);
  }
  if (s.kind == PortKind::vhost_user) out += fmt::format(",mode={:o}", s.socket_mode);
  return out;
}

}  // namespace vnet::ctl
