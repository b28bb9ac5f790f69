// vnetd's configuration: built-in defaults, a TOML file (see examples/vnetd.toml), and command
// line overrides. Invalid files are rejected with the line and the reason.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "ctl/port_spec.h"

namespace vnet::ctl {

struct BridgeConfig {
  std::string name = "br0";
  uint32_t aging_seconds = 300;
  uint32_t max_entries = 8192;        // learned MACs per bridge
  uint32_t max_entries_per_port = 1024;

  bool operator==(const BridgeConfig&) const = default;
};

enum class PollMode { busy, adaptive, interrupt };

struct DaemonConfig {
  std::string ctl_path;                // control socket
  uint32_t ctl_mode = 0660;
  std::string log_level = "info";
  uint32_t pmd_threads = 1;
  std::vector<int> pmd_cores;          // empty: not pinned
  PollMode poll_mode = PollMode::adaptive;
  uint32_t idle_us = 200;              // adaptive: idle time before sleeping
  uint32_t mtu = 1500;                 // of the TAP devices vnetd creates (guests: QEMU host_mtu=)
  std::vector<BridgeConfig> bridges{BridgeConfig{}};
  std::vector<PortSpec> ports;
};

// The embedded default: bridge br0, control socket under /run/vnetd/ (or
// $XDG_RUNTIME_DIR/vnetd/ when set and not root), adaptive polling, one poll thread.
DaemonConfig default_config();
std::string default_ctl_path();

Result<DaemonConfig> parse_config(std::string_view toml_text, std::string_view source_name);
Result<DaemonConfig> load_config_file(const std::string& path);
// Cross-checks (port names unique, bridges exist, thread/core counts).
Status validate_config(const DaemonConfig& cfg);

const char* to_string(PollMode mode);
Result<PollMode> parse_poll_mode(std::string_view text);

}  // namespace vnet::ctl
