// A real QEMU 7.2 guest (Debian kernel, virtio_net driver) against our back-end with a recording
// device: the guest boots and configures eth0 with 2 queue pairs, every ring starts with sane
// parameters; the back-end is then restarted under the running guest (QEMU reconnect=1) and the
// rings come back; the guest stops and everything is released. No traffic: the device engine
// comes with its own issue. Then the other direction: QEMU is the server (chardev server=on),
// our endpoint the client (vnetd's ",client" ports): it connects, and reconnects after a
// back-end restart.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "test_support.h"
#include "vhost_user/service.h"

namespace vnet::vhost_user::testing {
namespace {

std::string source_dir() {
  const char* s = std::getenv("VNET_SOURCE_DIR");
  return s ? s : ".";
}

std::string guest_dir() {
  const char* g = std::getenv("VNET_GUEST_DIR");
  return g ? g : source_dir() + "/build/guest";
}

// Runs a script to completion with a hard timeout; returns its exit code (-1: timeout/signal).
int run(std::vector<std::string> args, std::chrono::seconds timeout, const std::string& log) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  UniqueFd out(::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out.get(), 1);
    ::dup2(out.get(), 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  pollfd p{pidfd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count() * 1000)) <= 0) ::kill(pid, SIGKILL);
  ::close(pidfd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Stops guest "g" of `rundir` when it goes, so that a failed ASSERT does not leave QEMU
// running (run-guest starts it detached: it would outlive us).
struct GuestStopper {
  std::string rundir, log;
  bool stopped = false;
  int stop() {
    stopped = true;
    return run({source_dir() + "/scripts/guest/stop-guest", "--rundir", rundir, "--name", "g"}, std::chrono::seconds(60), log);
  }
  ~GuestStopper() {
    if (!stopped) stop();
  }
};

// Every one of `n` rings runs and is enabled.
auto all_running_enabled(size_t n) {
  return [n](auto&, auto& running) {
    if (running.size() != n) return false;
    for (auto& [i, s] : running)
      if (!s.enabled) return false;
    return true;
  };
}

TEST(QemuBoot, GuestBootsRestartsBackendAndStops) {
  ASSERT_TRUE(std::filesystem::exists(guest_dir() + "/vmlinux"))
      << "no guest image in " << guest_dir() << ": run scripts/guest/build-image";
  ASSERT_EQ(::access("/usr/bin/qemu-system-x86_64", X_OK), 0) << "qemu-system-x86_64 is not installed";

  FakeDevice dev(2);
  auto svc = Service::start().value();
  const std::string rundir = "/tmp/vnet-vu-qemu-" + std::to_string(::getpid());
  std::filesystem::remove_all(rundir);  // a leftover of a killed run with the same pid
  std::filesystem::create_directories(rundir);
  const std::string path = rundir + "/vu.sock";
  const std::string log = rundir + "/scripts.log";
  auto id = svc->add_endpoint(EndpointConfig{path}, dev).value();

  auto diag = [&] { return slurp(log) + slurp(rundir + "/g.qemu.log") + slurp(rundir + "/g.console.log"); };
  GuestStopper guest{rundir, log};

  int rc = run({source_dir() + "/scripts/guest/run-guest", "--name", "g", "--rundir", rundir, "--netdev",
                "vhost-user:" + path + ",queues=2,reconnect", "--ip", "10.0.0.1/24", "--no-iperf", "--no-ipv6", "--timeout",
                "150"},
               std::chrono::seconds(200), log);
  ASSERT_EQ(rc, 0) << diag();

  // The guest set 2 combined channels: all four rings run and are enabled.
  ASSERT_TRUE(dev.wait(all_running_enabled(4), 60s)) << diag();
  for (auto& [i, s] : dev.running()) {
    EXPECT_TRUE(virtio::is_valid_queue_size(s.size)) << s.size;
    EXPECT_GE(s.kick_fd, 0);
    EXPECT_GE(s.call_fd, 0);
  }
  virtio::Features acked = 0;
  for (auto& c : dev.calls())
    if (c.hook == Hook::set_features) acked = c.value;
  EXPECT_TRUE(virtio::has(acked, virtio::kFVersion1));
  EXPECT_TRUE(virtio::has(acked, virtio::kNetFMq));
  EXPECT_TRUE(virtio::has(acked, virtio::kNetFMrgRxbuf));

  // Back-end restart under the running guest: QEMU reconnects and sets every ring up again.
  const size_t starts = dev.count(Hook::start_ring);
  ASSERT_TRUE(svc->remove_endpoint(id).ok());
  EXPECT_EQ(dev.running_count(), 0u);
  id = svc->add_endpoint(EndpointConfig{path}, dev).value();
  ASSERT_TRUE(svc->wait_connected(id, true, 60s)) << diag();
  ASSERT_TRUE(dev.wait(all_running_enabled(4), 60s)) << diag();
  EXPECT_GE(dev.count(Hook::start_ring), starts + 4);

  EXPECT_EQ(guest.stop(), 0) << diag();
  ASSERT_TRUE(svc->wait_connected(id, false, 30s)) << diag();
  EXPECT_EQ(dev.running_count(), 0u);
  EXPECT_EQ(dev.bogus_stops(), 0);
  EXPECT_EQ(dev.reset_with_running_rings(), 0);
  ASSERT_TRUE(svc->remove_endpoint(id).ok());
  std::filesystem::remove_all(rundir);
}

TEST(QemuBoot, ClientEndpointConnectsToQemusServerSocketAndReconnects) {
  ASSERT_TRUE(std::filesystem::exists(guest_dir() + "/vmlinux"))
      << "no guest image in " << guest_dir() << ": run scripts/guest/build-image";
  ASSERT_EQ(::access("/usr/bin/qemu-system-x86_64", X_OK), 0) << "qemu-system-x86_64 is not installed";

  FakeDevice dev(1);
  auto svc = Service::start().value();
  const std::string rundir = "/tmp/vnet-vu-qemuc-" + std::to_string(::getpid());
  std::filesystem::remove_all(rundir);
  std::filesystem::create_directories(rundir);
  const std::string path = rundir + "/vu.sock";  // QEMU creates and listens on it
  const std::string log = rundir + "/scripts.log";
  EndpointConfig cfg{path, true};
  cfg.reconnect_max = 500ms;
  // Added first: it retries until QEMU listens (QEMU waits for us before it starts the guest).
  auto id = svc->add_endpoint(cfg, dev).value();
  auto diag = [&] { return slurp(log) + slurp(rundir + "/g.qemu.log") + slurp(rundir + "/g.console.log"); };
  GuestStopper guest{rundir, log};

  int rc = run({source_dir() + "/scripts/guest/run-guest", "--name", "g", "--rundir", rundir, "--netdev",
                "vhost-user:" + path + ",server", "--ip", "10.0.0.1/24", "--no-iperf", "--no-ipv6", "--timeout", "150"},
               std::chrono::seconds(200), log);
  ASSERT_EQ(rc, 0) << diag();
  ASSERT_TRUE(dev.wait(all_running_enabled(2), 60s)) << diag();

  // Back-end restart: the new client endpoint finds QEMU listening again and everything restarts.
  const size_t starts = dev.count(Hook::start_ring);
  ASSERT_TRUE(svc->remove_endpoint(id).ok());
  EXPECT_EQ(dev.running_count(), 0u);
  id = svc->add_endpoint(cfg, dev).value();
  ASSERT_TRUE(svc->wait_connected(id, true, 60s)) << diag();
  ASSERT_TRUE(dev.wait(all_running_enabled(2), 60s)) << diag();
  EXPECT_GE(dev.count(Hook::start_ring), starts + 2);

  EXPECT_EQ(guest.stop(), 0) << diag();
  ASSERT_TRUE(svc->wait_connected(id, false, 30s)) << diag();
  EXPECT_EQ(dev.running_count(), 0u);
  EXPECT_EQ(dev.bogus_stops(), 0);
  ASSERT_TRUE(svc->remove_endpoint(id).ok());
  std::filesystem::remove_all(rundir);
}

}  // namespace
}  // namespace vnet::vhost_user::testing
