// vnetd: the switch daemon. Parses the command line (and an optional config file), starts the
// Daemon and runs until SIGTERM or SIGINT, then stops cleanly.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>
#include <sstream>

#include "base/log.h"
#include "ctl/config.h"
#include "ctl/daemon.h"

using namespace vnet;

namespace {

Result<std::vector<int>> parse_cores(const std::string& list) {
  std::vector<int> cores;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || v < 0 || v > 4095) return Error("--pmd-cores: '" + item + "' is not a core number");
    cores.push_back(static_cast<int>(v));
  }
  return cores;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vnetd: userspace virtio-net switch (vhost-user back-end, L2 bridge, TAP ports)"};
  std::string config_file, ctl_path, poll_mode, log_level, cores;
  std::vector<std::string> port_specs;
  unsigned threads = 0;
  app.add_option("--config", config_file, "TOML config file (see examples/vnetd.toml)");
  app.add_option("--port", port_specs, "vhost-user:PATH[,client][,queues=N][,name=NAME][,vlan=ID] or tap:IFNAME[,...]");
  app.add_option("--ctl", ctl_path, "control socket path");
  app.add_option("--pmd-threads", threads, "number of poll threads");
  app.add_option("--pmd-cores", cores, "comma-separated cores to pin poll threads to");
  app.add_option("--poll-mode", poll_mode, "busy | adaptive | interrupt");
  app.add_option("--log-level", log_level, "debug | info | warn | error");
  CLI11_PARSE(app, argc, argv);

  // Block the stop signals before any thread starts, so that only sigwait() below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto fail = [](const std::string& msg) {
    std::cerr << "vnetd: " << msg << "\n";
    return 1;
  };

  ctl::DaemonConfig cfg = ctl::default_config();
  if (!config_file.empty()) {
    auto c = ctl::load_config_file(config_file);
    if (!c) return fail(c.error().message());
    cfg = std::move(c.value());
  }
  if (!ctl_path.empty()) cfg.ctl_path = ctl_path;
  if (threads) cfg.pmd_threads = threads;
  if (!cores.empty()) {
    auto c = parse_cores(cores);
    if (!c) return fail(c.error().message());
    cfg.pmd_cores = c.value();
    if (!threads) cfg.pmd_threads = static_cast<uint32_t>(cfg.pmd_cores.size());
  }
  if (!poll_mode.empty()) {
    auto m = ctl::parse_poll_mode(poll_mode);
    if (!m) return fail(m.error().message());
    cfg.poll_mode = m.value();
  }
  if (!log_level.empty()) cfg.log_level = log_level;
  for (const auto& s : port_specs) {
    auto p = ctl::parse_port_spec(s);
    if (!p) return fail(p.error().message());
    cfg.ports.push_back(p.value());
  }
  auto level = log::parse_level(cfg.log_level);
  if (!level) return fail("log level '" + cfg.log_level + "' must be debug, info, warn or error");
  log::set_level(*level);

  auto daemon = ctl::Daemon::start(cfg);
  if (!daemon) return fail(daemon.error().message());

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::info("vnetd: signal {}, stopping", sig);
  daemon.value().reset();
  return 0;
}
