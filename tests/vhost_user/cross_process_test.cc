// Front-end and back-end in different processes (fork): the lifecycle repeated across the
// process boundary, and a back-end killed and restarted under a running front-end (the QEMU
// reconnect=1 case: the stale socket is replaced and the rings resume where they were).
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/eventfd.h"
#include "test_support.h"
#include "vhost_user/service.h"

namespace vnet::vhost_user::testing {
namespace {

// Waits for a child with a hard timeout (pidfd + poll); kills it on timeout. Returns the exit
// code, or -1 if it timed out or died from a signal.
int wait_child(pid_t pid, std::chrono::milliseconds timeout) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    ::close(pidfd);
    if (n <= 0) ::kill(pid, SIGKILL);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct RingFds {
  std::vector<UniqueFd> kicks, calls;
  explicit RingFds(uint16_t n) {
    for (uint16_t i = 0; i < n; ++i) {
      kicks.push_back(make_eventfd().value());
      calls.push_back(make_eventfd().value());
    }
  }
};

BringUpConfig config_for(const DriverMemory& mem, const RingFds& fds, uint16_t nrings, uint16_t base) {
  BringUpConfig c;
  c.driver_features = default_device_features();
  c.regions = {mem.region()};
  for (uint16_t i = 0; i < nrings; ++i)
    c.rings.push_back(FrontendRing{i, mem.qsize, mem.addresses(i), base, fds.kicks[i].get(), fds.calls[i].get(), true});
  return c;
}

// Child: our front-end, 5 full lifecycles with 8 rings. Exit code says which step failed.
int frontend_child(const std::string& path) {
  DriverMemory mem(8, 256);
  RingFds fds(8);
  const size_t fds_before = count_open_fds();
  for (uint16_t round = 1; round <= 5; ++round) {
    auto fe = Frontend::connect(path, std::chrono::seconds(20));
    if (!fe) return 10;
    if (!fe->bring_up(config_for(mem, fds, 8, round)).ok()) return 11;
    for (uint16_t i = 0; i < 8; ++i) mem.set_avail_idx(i, static_cast<uint16_t>(round * 3 + i));
    uint16_t rings[] = {0, 1, 2, 3, 4, 5, 6, 7};
    auto bases = fe->stop_rings(rings);
    if (!bases) return 12;
    for (uint16_t i = 0; i < 8; ++i)
      if (bases.value()[i] != round * 3 + i) return 13;
    fe->close();
  }
  if (count_open_fds() != fds_before) return 14;
  return 0;
}

TEST(CrossProcess, FrontendInAnotherProcessThroughTheWholeLifecycle) {
  const std::string path = socket_path("xproc");
  pid_t child = ::fork();  // before any thread exists in this process
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(frontend_child(path));

  FakeDevice dev(4);
  auto svc = Service::start().value();
  const size_t fds_before = count_open_fds();
  auto id = svc->add_endpoint(EndpointConfig{path}, dev).value();
  EXPECT_EQ(wait_child(child, std::chrono::seconds(60)), 0);
  ASSERT_TRUE(svc->wait_connections(id, 5, std::chrono::seconds(30)));
  ASSERT_TRUE(svc->wait_connected(id, false, std::chrono::seconds(30)));
  EXPECT_EQ(dev.count(Hook::start_ring), 40u);
  EXPECT_EQ(dev.count(Hook::stop_ring), 40u);
  EXPECT_EQ(dev.count(Hook::reset), 5u);
  EXPECT_EQ(dev.running_count(), 0u);
  EXPECT_EQ(count_memfd_mappings("vu-test"), 0u) << "the child's memory is unmapped here";
  ASSERT_TRUE(svc->remove_endpoint(id).ok());
  EXPECT_EQ(count_open_fds(), fds_before);
}

// Child: a back-end (Service) that exits 0 once both rings run from base 3 and have a kick
// pending that the front-end never sent (the back-end's own rescan kick).
// `verified_fd` (-1 for none) gets one byte once the check passed; the child then stays until
// the front-end hangs up, since the front-end may still wait for the reply to its last message.
int restarted_backend_child(const std::string& path, bool verify, int verified_fd = -1) {
  FakeDevice dev(1);
  auto svc = Service::start();
  if (!svc) return 20;
  auto id = svc.value()->add_endpoint(EndpointConfig{path}, dev);
  if (!id) return 21;
  if (!verify) {
    for (;;) ::pause();  // killed by the parent
  }
  auto both_enabled = [](auto&, auto& running) {
    return running.size() == 2 && running.at(0).enabled && running.at(1).enabled;
  };
  if (!dev.wait(both_enabled, std::chrono::seconds(20))) return 22;
  for (auto& [i, s] : dev.running()) {
    if (s.last_avail_idx != 3 || !s.enabled) return 23;
    if (eventfd_drain(s.kick_fd) == 0) return 24;
  }
  const char ok = 1;
  if (::write(verified_fd, &ok, 1) != 1) return 26;
  if (!svc.value()->wait_connected(id.value(), false, std::chrono::seconds(20))) return 25;
  return 0;
}

TEST(CrossProcess, BackendRestartedUnderRunningFrontend) {
  const std::string path = socket_path("restart");
  pid_t first = ::fork();
  ASSERT_GE(first, 0);
  if (first == 0) ::_exit(restarted_backend_child(path, false));

  DriverMemory mem(2, 256);
  RingFds fds(2);
  auto fe = Frontend::connect(path, std::chrono::seconds(20));
  ASSERT_TRUE(fe.ok()) << fe.error().message();
  ASSERT_TRUE(fe->bring_up(config_for(mem, fds, 2, 0)).ok());
  mem.set_avail_idx(0, 5);  // the guest keeps queueing while the back-end is gone

  ::kill(first, SIGKILL);  // crash: the socket file stays behind
  EXPECT_EQ(wait_child(first, std::chrono::seconds(10)), -1);
  EXPECT_FALSE(fe->get_features().ok());

  // Kicks the first back-end left pending: gone, so that any kick the second one finds is its own.
  for (auto& k : fds.kicks) (void)eventfd_drain(k.get());
  int verified[2];
  ASSERT_EQ(::pipe(verified), 0);
  pid_t second = ::fork();
  ASSERT_GE(second, 0);
  if (second == 0) ::_exit(restarted_backend_child(path, true, verified[1]));
  ::close(verified[1]);
  // QEMU restores last_avail from the used index it saw (here 3) and sets everything up again.
  fe = Frontend::connect(path, std::chrono::seconds(20));
  ASSERT_TRUE(fe.ok()) << fe.error().message();
  ASSERT_TRUE(fe->bring_up(config_for(mem, fds, 2, 3)).ok());
  // Hang up only after the child checked the running rings (a hang-up stops them).
  pollfd p{verified[0], POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 30'000), 1) << "the second back-end never saw both rings running";
  ::close(verified[0]);
  fe->close();
  EXPECT_EQ(wait_child(second, std::chrono::seconds(30)), 0) << "22: rings not running and enabled, 23: wrong base, "
                                                                 "24: no rescan kick, 25: no hang-up seen, 26: pipe";
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace vnet::vhost_user::testing
