// Interop with real DPDK (22.11, Debian's dpdk-testpmd), started by the test itself:
//  - testpmd's net_virtio_user as front-end against our back-end (Service + recording device),
//  - testpmd's net_vhost as back-end against our Frontend.
// Rings are brought up and torn down; traffic comes with the device and driver issues.
// Each testpmd gets its own --file-prefix, is killed by pid and its /var/run/dpdk dir removed.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "base/eventfd.h"
#include "test_support.h"
#include "vhost_user/service.h"

namespace vnet::vhost_user::testing {
namespace {

constexpr const char* kTestpmd = "/usr/bin/dpdk-testpmd";

class Testpmd {
 public:
  // Starts testpmd with one --vdev; output goes to a log file shown on failure.
  explicit Testpmd(const std::string& vdev) {
    prefix_ = "vnet-vu-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++);
    log_ = "/tmp/" + prefix_ + ".log";
    // Interactive mode with a silent stdin: ports (and so the vhost-user rings) come up at
    // start, but no forwarding lcore spins on the shared CPUs.
    std::vector<std::string> args = {kTestpmd, "--no-pci", "--no-huge", "-m", "256", "--file-prefix=" + prefix_, "-l", "0,1",
                                     "--log-level=lib.vhost.config:debug", "--log-level=pmd.net.vhost:info", "--vdev", vdev, "--", "-i", "--total-num-mbufs=32768",
                                     "--nb-cores=1"};
    // Everything the child needs is prepared before fork: other threads may hold malloc locks.
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    UniqueFd out(::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    int in[2];
    if (::pipe2(in, O_CLOEXEC) == 0) {
      stdin_read_.reset(in[0]);
      stdin_write_.reset(in[1]);  // kept open (and silent) for testpmd's whole life
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a busy-polling testpmd must not outlive a dead test
      ::dup2(out.get(), 1);
      ::dup2(out.get(), 2);
      ::dup2(stdin_read_.get(), 0);
      ::execv(kTestpmd, argv.data());
      ::_exit(127);
    }
  }
  ~Testpmd() {
    kill_now();
    std::filesystem::remove_all("/var/run/dpdk/" + prefix_);
    std::filesystem::remove(log_);
  }
  bool alive() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Waits until `path` exists (testpmd's vhost server socket); false if testpmd died first.
  bool wait_for_path(const std::string& path, std::chrono::seconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (std::filesystem::exists(path)) return true;
      if (!alive()) return false;
      std::this_thread::sleep_for(20ms);  // polling a file system path: there is nothing to wait on
    }
    return false;
  }
  std::string log() const {
    std::ifstream f(log_);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

 private:
  static inline int counter_ = 0;
  pid_t pid_ = -1;
  std::string prefix_, log_;
  UniqueFd stdin_read_, stdin_write_;
};

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) n++;
  return n;
}

void require_testpmd() {
  ASSERT_EQ(::access(kTestpmd, X_OK), 0) << kTestpmd << " is missing: the DPDK interop tests need the Debian 'dpdk' package "
                                         << "(scripts/deps installs it)";
}

// testpmd (net_virtio_user) is the front-end, our Service the back-end.
TEST(DpdkInterop, VirtioUserFrontendAgainstOurBackend) {
  require_testpmd();
  FakeDevice dev(1);
  auto svc = Service::start().value();
  const std::string path = socket_path("dpdk-vu");
  auto id = svc->add_endpoint(EndpointConfig{path}, dev).value();

  Testpmd pmd("net_virtio_user0,path=" + path + ",queues=1");
  ASSERT_TRUE(dev.wait_running(2, 60s)) << "testpmd did not bring up both rings; its log:\n" << pmd.log();
  ASSERT_TRUE(pmd.alive()) << pmd.log();
  auto running = dev.running();
  for (uint16_t i = 0; i < 2; ++i) {
    const VringSetup& s = running.at(i);
    EXPECT_TRUE(virtio::is_valid_queue_size(s.size)) << s.size;
    EXPECT_GE(s.size, 64);
    EXPECT_NE(s.desc, nullptr);
    EXPECT_GE(s.kick_fd, 0);
    // The device reads the ring through these pointers: they lie in testpmd's shared memory.
    volatile uint16_t idx = *reinterpret_cast<uint16_t*>(s.avail + virtio::kRingIdxOff);
    (void)idx;
  }
  ASSERT_GE(dev.count(Hook::set_features), 1u);
  auto calls = dev.calls();
  virtio::Features acked = 0;
  for (auto& c : calls)
    if (c.hook == Hook::set_features) acked = c.value;
  EXPECT_TRUE(virtio::has(acked, virtio::kFVersion1));
  EXPECT_TRUE(svc->state(id)->connected);

  pmd.kill_now();
  ASSERT_TRUE(svc->wait_connected(id, false, 10s));
  EXPECT_EQ(dev.running_count(), 0u);
  EXPECT_GE(dev.count(Hook::stop_ring), 2u);
  EXPECT_GE(dev.count(Hook::reset), 1u);
  EXPECT_EQ(dev.bogus_stops(), 0);
  EXPECT_EQ(dev.reset_with_running_rings(), 0);
  ASSERT_TRUE(svc->remove_endpoint(id).ok());
}

// testpmd (net_vhost) is the back-end, our Frontend the driver side; twice, to show that a
// reconnect after a clean teardown works.
TEST(DpdkInterop, OurFrontendAgainstNetVhostBackend) {
  require_testpmd();
  const std::string path = socket_path("dpdk-vhost");
  Testpmd pmd("net_vhost0,iface=" + path + ",queues=1");
  ASSERT_TRUE(pmd.wait_for_path(path, 60s)) << "testpmd did not create " << path << ":\n" << pmd.log();
  DriverMemory mem(2, 256);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    auto fe = Frontend::connect(path, 10s);
    ASSERT_TRUE(fe.ok()) << fe.error().message() << "\ntestpmd log:\n" << pmd.log();
    std::vector<UniqueFd> kicks, calls;
    BringUpConfig cfg;
    cfg.driver_features = virtio::bit(virtio::kFVersion1) | virtio::bit(virtio::kNetFMrgRxbuf);
    cfg.regions = {mem.region()};
    for (uint16_t i = 0; i < 2; ++i) {
      kicks.push_back(make_eventfd().value());
      calls.push_back(make_eventfd().value());
      cfg.rings.push_back(FrontendRing{i, mem.qsize, mem.addresses(i), 0, kicks[i].get(), calls[i].get(), true});
    }
    auto n = fe->bring_up(cfg);
    ASSERT_TRUE(n.ok()) << n.error().message() << "\ntestpmd log:\n" << pmd.log();
    EXPECT_TRUE(virtio::has(n->features, virtio::kFVersion1));
    EXPECT_TRUE(virtio::has(n->features, virtio::kFProtocolFeatures));
    EXPECT_GE(n->queue_pairs, 1u);
    uint16_t rings[] = {0, 1};
    auto bases = fe->stop_rings(rings);
    ASSERT_TRUE(bases.ok()) << bases.error().message();
    EXPECT_EQ(bases.value(), (std::vector<uint16_t>{0, 0}));  // no traffic was queued
    // DPDK declares the device ready (and net_vhost creates it) only once every ring is
    // complete and DRIVER_OK was set.
    EXPECT_EQ(count_of(pmd.log(), "virtio is now ready for processing"), round + 1u) << pmd.log();
    fe->close();
    ASSERT_TRUE(pmd.alive()) << "testpmd died:\n" << pmd.log();
  }
  pmd.kill_now();
  ::unlink(path.c_str());  // testpmd, killed, leaves its server socket behind
}

}  // namespace
}  // namespace vnet::vhost_user::testing
