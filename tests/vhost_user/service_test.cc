// vhost_user::Service: socket paths and permissions, one connection per endpoint, synchronous
// removal, client mode with backoff and reconnect, many endpoints at once.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "base/eventfd.h"
#include "test_support.h"
#include "vhost_user/service.h"

namespace vnet::vhost_user::testing {
namespace {

struct RingFds {
  std::vector<UniqueFd> kicks, calls;
  explicit RingFds(uint16_t n) {
    for (uint16_t i = 0; i < n; ++i) {
      kicks.push_back(make_eventfd().value());
      calls.push_back(make_eventfd().value());
    }
  }
};

BringUpConfig config_for(const DriverMemory& mem, const RingFds& fds, uint16_t nrings) {
  BringUpConfig c;
  c.driver_features = default_device_features();
  c.regions = {mem.region()};
  for (uint16_t i = 0; i < nrings; ++i)
    c.rings.push_back(FrontendRing{i, mem.qsize, mem.addresses(i), 0, fds.kicks[i].get(), fds.calls[i].get(), true});
  return c;
}

bool path_exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

TEST(Service, ServerSocketHasRequestedPermissions) {
  FakeDevice dev;
  auto svc = Service::start().value();
  auto p1 = socket_path("perm"), p2 = socket_path("perm");
  auto a = svc->add_endpoint(EndpointConfig{p1}, dev).value();
  FakeDevice dev2;
  auto b = svc->add_endpoint(EndpointConfig{p2, false, 0600}, dev2).value();
  struct stat st {};
  ASSERT_EQ(::stat(p1.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(::stat(p2.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(svc->remove_endpoint(a).ok());
  ASSERT_TRUE(svc->remove_endpoint(b).ok());
  EXPECT_FALSE(path_exists(p1));
  EXPECT_FALSE(path_exists(p2));
}

TEST(Service, RefusesPathThatIsNotASocket) {
  FakeDevice dev;
  auto svc = Service::start().value();
  auto p = socket_path("file");
  { std::ofstream(p) << "precious"; }
  auto r = svc->add_endpoint(EndpointConfig{p}, dev);
  EXPECT_FALSE(r.ok());
  std::ifstream in(p);
  std::string s;
  in >> s;
  EXPECT_EQ(s, "precious") << "the file must be left alone";
  ::unlink(p.c_str());
}

TEST(Service, RefusesSocketSomeoneListensOn) {
  FakeDevice dev, dev2;
  auto svc = Service::start().value();
  auto other = Service::start().value();
  auto p = socket_path("busy");
  auto a = other->add_endpoint(EndpointConfig{p}, dev).value();
  EXPECT_FALSE(svc->add_endpoint(EndpointConfig{p}, dev2).ok());
  EXPECT_FALSE(svc->add_endpoint(EndpointConfig{p}, dev2).ok());
  EXPECT_FALSE(other->add_endpoint(EndpointConfig{p}, dev2).ok()) << "same path twice in one service";
  // The owner keeps serving (the in-use probe is a connection that closes at once).
  auto fe = Frontend::connect(p, 2s);
  ASSERT_TRUE(fe.ok());
  EXPECT_TRUE(fe->get_features().ok());
  EXPECT_TRUE(other->remove_endpoint(a).ok());
}

TEST(Service, ReplacesStaleSocket) {
  auto p = socket_path("stale");
  {
    // A socket file left behind by a crashed process: bound, never unlinked, nobody listening.
    UniqueFd s(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, p.c_str());
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  }
  ASSERT_TRUE(path_exists(p));
  FakeDevice dev;
  auto svc = Service::start().value();
  auto id = svc->add_endpoint(EndpointConfig{p}, dev);
  ASSERT_TRUE(id.ok()) << id.error().message();
  auto fe = Frontend::connect(p, 2s);
  ASSERT_TRUE(fe.ok());
  EXPECT_EQ(fe->get_queue_num().value(), 4u);
}

TEST(Service, SecondConnectionIsRefusedWhileOneIsActive) {
  FakeDevice dev;
  auto svc = Service::start().value();
  auto p = socket_path("second");
  auto id = svc->add_endpoint(EndpointConfig{p}, dev).value();
  auto first = Frontend::connect(p, 2s).value();
  ASSERT_TRUE(first.get_features().ok());
  auto second = Frontend::connect(p, 2s).value();
  second.set_reply_timeout(5s);
  EXPECT_FALSE(second.get_features().ok()) << "the second front-end must see the connection closed";
  EXPECT_TRUE(first.get_features().ok()) << "the first one is not disturbed";
  EXPECT_EQ(svc->state(id)->rejected, 1u);
}

TEST(Service, RemoveEndpointIsSynchronous) {
  FakeDevice dev;
  auto svc = Service::start().value();
  auto p = socket_path("remove");
  auto id = svc->add_endpoint(EndpointConfig{p}, dev).value();
  DriverMemory mem(4, 128);
  RingFds fds(4);
  auto fe = Frontend::connect(p, 2s).value();
  ASSERT_TRUE(fe.bring_up(config_for(mem, fds, 4)).ok());
  ASSERT_TRUE(dev.wait_running(4));
  ASSERT_TRUE(svc->remove_endpoint(id).ok());
  // No waiting: all of it holds when remove_endpoint returns.
  EXPECT_EQ(dev.running_count(), 0u);
  EXPECT_EQ(dev.count(Hook::reset), 1u);
  EXPECT_FALSE(path_exists(p));
  EXPECT_EQ(count_memfd_mappings("vu-test"), 1u);
  EXPECT_FALSE(fe.get_features().ok());
  EXPECT_FALSE(svc->remove_endpoint(id).ok()) << "unknown id";
}

TEST(Service, RemoveDoesNotUnlinkAPathSomeoneElseOwnsNow) {
  FakeDevice dev;
  auto svc = Service::start().value();
  auto p = socket_path("replaced");
  auto id = svc->add_endpoint(EndpointConfig{p}, dev).value();
  ::unlink(p.c_str());
  { std::ofstream(p) << "theirs"; }
  ASSERT_TRUE(svc->remove_endpoint(id).ok());
  EXPECT_TRUE(path_exists(p));
  ::unlink(p.c_str());
}

// QEMU reconnect=1 style: the front-end goes away and comes back; each connection starts over.
TEST(Service, ReconnectStartsOverWithResetDevice) {
  FakeDevice dev(2);
  auto svc = Service::start().value();
  auto p = socket_path("again");
  auto id = svc->add_endpoint(EndpointConfig{p}, dev).value();
  DriverMemory mem(4, 256);
  RingFds fds(4);
  for (int round = 1; round <= 3; ++round) {
    auto fe = Frontend::connect(p, 2s).value();
    auto cfg = config_for(mem, fds, 4);
    for (auto& r : cfg.rings) r.base = static_cast<uint16_t>(round * 10);
    ASSERT_TRUE(fe.bring_up(cfg).ok());
    ASSERT_TRUE(dev.wait_running(4));
    for (auto& [i, s] : dev.running()) EXPECT_EQ(s.last_avail_idx, round * 10);
    fe.close();
    ASSERT_TRUE(svc->wait_connected(id, false, 30s));
    EXPECT_EQ(dev.count(Hook::reset), static_cast<size_t>(round));
    EXPECT_EQ(dev.count(Hook::attach_memory), static_cast<size_t>(round));
  }
}

// Client mode: we connect to a listening front-end, with backoff while it is absent, and again
// after it goes away.
TEST(Service, ClientModeConnectsWithBackoffAndReconnects) {
  FakeDevice dev(1);
  auto svc = Service::start().value();
  auto p = socket_path("client");
  EndpointConfig cfg{p, true};
  cfg.reconnect_min = 10ms;
  cfg.reconnect_max = 100ms;
  auto id = svc->add_endpoint(cfg, dev).value();
  EXPECT_FALSE(svc->state(id)->connected);
  DriverMemory mem(2, 64);
  RingFds fds(2);
  for (int round = 1; round <= 2; ++round) {
    auto fe = Frontend::accept_one(p, 5s);  // listens; the service finds it on a retry
    ASSERT_TRUE(fe.ok()) << fe.error().message();
    ASSERT_TRUE(fe->bring_up(config_for(mem, fds, 2)).ok());
    ASSERT_TRUE(dev.wait_running(2));
    fe->close();
    ASSERT_TRUE(svc->wait_connected(id, false, 30s));
    EXPECT_EQ(dev.running_count(), 0u);
  }
  EXPECT_EQ(svc->state(id)->connections, 2u);
  ASSERT_TRUE(svc->remove_endpoint(id).ok());
}

TEST(Service, ManyEndpointsInParallel) {
  constexpr int kPorts = 6;
  auto svc = Service::start().value();
  std::vector<std::unique_ptr<FakeDevice>> devs;
  std::vector<std::string> paths;
  std::vector<EndpointId> ids;
  for (int i = 0; i < kPorts; ++i) {
    devs.push_back(std::make_unique<FakeDevice>(2));
    paths.push_back(socket_path("many"));
    ids.push_back(svc->add_endpoint(EndpointConfig{paths.back()}, *devs.back()).value());
  }
  std::vector<std::thread> drivers;
  std::atomic<int> ok{0};
  for (int i = 0; i < kPorts; ++i) {
    drivers.emplace_back([&, i] {
      DriverMemory mem(4, 256);
      RingFds fds(4);
      for (int round = 0; round < 3; ++round) {
        auto fe = Frontend::connect(paths[i], 5s);
        if (!fe || !fe->bring_up(config_for(mem, fds, 4)).ok() || !devs[i]->wait_running(4)) return;
        uint16_t rings[] = {0, 1, 2, 3};
        if (!fe->stop_rings(rings).ok()) return;
        fe->close();
        if (!svc->wait_connected(ids[i], false, 30s)) return;
      }
      ok++;
    });
  }
  for (auto& t : drivers) t.join();
  EXPECT_EQ(ok.load(), kPorts);
  for (int i = 0; i < kPorts; ++i) {
    EXPECT_EQ(devs[i]->count(Hook::start_ring), 12u);
    EXPECT_EQ(devs[i]->count(Hook::reset), 3u);
    EXPECT_TRUE(svc->remove_endpoint(ids[i]).ok());
  }
}

}  // namespace
}  // namespace vnet::vhost_user::testing
