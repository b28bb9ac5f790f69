// dpdk-testpmd with net_vhost ports as the back-end peer of integration tests. Each instance has
// its own --file-prefix and socket directory, is killed by pid and its /var/run/dpdk/PREFIX is
// removed afterwards. A missing dpdk-testpmd is a test failure, never a skip.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "driver/child_process.h"

namespace vnet::driver::testing {

inline std::string find_in_path(const std::string& name) {
  const char* path = ::getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string cand = p.substr(start, end - start) + "/" + name;
    if (::access(cand.c_str(), X_OK) == 0) return cand;
    start = end + 1;
  }
  return {};
}

struct PortStats {
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  bool found = false;
};

class Testpmd {
 public:
  // nports net_vhost ports (server sockets sock(i)), forwarding mode and extra testpmd args.
  // With client = true testpmd connects to sockets we listen on (net_vhost client=1) instead.
  Testpmd(int nports, const std::string& fwd_mode, const std::vector<std::string>& extra = {}, bool client = false,
          int queues = 1) {
    static std::atomic<int> seq{0};
    prefix_ = "vnetdrv-" + std::to_string(::getpid()) + "-" + std::to_string(seq++);
    char tmpl[] = "/tmp/vnet-testpmd-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    const std::string bin = find_in_path("dpdk-testpmd");
    if (bin.empty()) {
      error_ = "dpdk-testpmd not found in PATH: install the Debian dpdk package (scripts/deps)";
      return;
    }
    std::vector<std::string> argv{bin, "--no-pci", "--no-huge", "-m", "256", "--file-prefix=" + prefix_, "--log-level=lib.eal:error"};
    for (int i = 0; i < nports; ++i)
      argv.push_back("--vdev=net_vhost" + std::to_string(i) + ",iface=" + sock(i) + ",queues=" + std::to_string(queues) + (client ? ",client=1" : ""));
    argv.insert(argv.end(), {"--", "--total-num-mbufs=32768", "--stats-period", "1", "--forward-mode=" + fwd_mode});
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<ChildProcess>(argv, dir_ + "/testpmd.log");
    for (int i = 0; i < nports && !client; ++i) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!wait_for_path(sock(i), std::chrono::milliseconds(100))) {
        if (proc_->wait(std::chrono::milliseconds(0)) >= 0) {
          error_ = "testpmd exited before creating " + sock(i) + "; log:\n" + proc_->log();
          return;
        }
        if (std::chrono::steady_clock::now() > deadline) {
          error_ = "testpmd did not create " + sock(i) + " within 30 s; log:\n" + proc_->log();
          return;
        }
      }
    }
  }
  ~Testpmd() {
    if (proc_) proc_->stop();
    std::error_code ec;
    std::filesystem::remove_all("/var/run/dpdk/" + prefix_, ec);
    if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir_, ec);
    else if (proc_) std::cerr << "testpmd log kept in " << proc_->log_path() << "\n";
  }

  // Empty when testpmd is up with its sockets.
  const std::string& error() const { return error_; }
  std::string sock(int i) const { return dir_ + "/vhost" + std::to_string(i) + ".sock"; }
  const std::string& dir() const { return dir_; }
  std::string log() const { return proc_ ? proc_->log() : std::string(); }

  // The latest periodic NIC statistics of a port (cumulative counters).
  PortStats stats(int port) const {
    const std::string l = log();
    PortStats s;
    const std::string tag = "NIC statistics for port " + std::to_string(port) + " ";
    size_t at = l.rfind(tag);
    if (at == std::string::npos) return s;
    const std::string block = l.substr(at, 600);
    s.rx_packets = field(block, "RX-packets:");
    s.rx_bytes = field(block, "RX-bytes:");
    s.tx_packets = field(block, "TX-packets:");
    s.tx_bytes = field(block, "TX-bytes:");
    s.found = true;
    return s;
  }
  // Waits until port's RX-packets reaches n (stats are printed once a second).
  PortStats wait_rx(int port, uint64_t n, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    PortStats s;
    while (std::chrono::steady_clock::now() < deadline) {
      s = stats(port);
      if (s.rx_packets >= n) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return s;
  }
  // How often the vhost library logged that the device on socket i became ready.
  size_t ready_count(int i) const {
    const std::string l = log();
    const std::string needle = "(" + sock(i) + ") virtio is now ready";
    size_t n = 0;
    for (size_t at = l.find(needle); at != std::string::npos; at = l.find(needle, at + 1)) ++n;
    return n;
  }
  // Waits until the device on socket i has become ready more than `before` times.
  bool wait_ready(int i, size_t before, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ready_count(i) > before) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

 private:
  // The number after `key` in a testpmd statistics block (0 if absent).
  static uint64_t field(const std::string& block, const std::string& key) {
    size_t at = block.find(key);
    if (at == std::string::npos) return 0;
    at += key.size();
    while (at < block.size() && block[at] == ' ') ++at;
    uint64_t v = 0;
    while (at < block.size() && block[at] >= '0' && block[at] <= '9') v = v * 10 + static_cast<uint64_t>(block[at++] - '0');
    return v;
  }
  std::string prefix_, dir_, error_;
  std::unique_ptr<ChildProcess> proc_;
};

}  // namespace vnet::driver::testing
