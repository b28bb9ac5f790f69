// Our front-end against our back-end (Service + BackendConnection + FakeDevice), in process:
// the whole lifecycle, many queues, reconnects, and no fd or mapping leaks.
#include <gtest/gtest.h>

#include "base/eventfd.h"
#include "test_support.h"
#include "vhost_user/service.h"

namespace vnet::vhost_user::testing {
namespace {

struct Rings {
  std::vector<UniqueFd> kicks, calls;
  explicit Rings(uint16_t n) {
    for (uint16_t i = 0; i < n; ++i) {
      kicks.push_back(make_eventfd().value());
      calls.push_back(make_eventfd().value());
    }
  }
};

BringUpConfig bring_up_config(const DriverMemory& mem, const Rings& fds, uint16_t nrings) {
  BringUpConfig c;
  c.driver_features = default_device_features();
  c.regions = {mem.region()};
  c.mtu = 1500;
  for (uint16_t i = 0; i < nrings; ++i)
    c.rings.push_back(FrontendRing{i, mem.qsize, mem.addresses(i), 0, fds.kicks[i].get(), fds.calls[i].get(), true});
  return c;
}

class FrontendBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    svc = Service::start().value();
    path = socket_path("fb");
    id = svc->add_endpoint(EndpointConfig{path}, dev).value();
  }
  FakeDevice dev{4};
  std::unique_ptr<Service> svc;
  std::string path;
  EndpointId id{};
};

TEST_F(FrontendBackendTest, BringUpStartsEveryRingWithTranslatedPointers) {
  const uint16_t nrings = 8;
  DriverMemory mem(nrings, 256);
  Rings fds(nrings);
  auto fe = Frontend::connect(path, 2s);
  ASSERT_TRUE(fe.ok()) << fe.error().message();
  auto n = fe->bring_up(bring_up_config(mem, fds, nrings));
  ASSERT_TRUE(n.ok()) << n.error().message();
  EXPECT_EQ(n->queue_pairs, 4u);
  EXPECT_TRUE(virtio::has(n->features, virtio::kFProtocolFeatures));
  EXPECT_TRUE(n->protocol_features & protocol::bit(protocol::kReplyAck));
  EXPECT_FALSE(n->protocol_features & protocol::bit(protocol::kConfig));

  ASSERT_TRUE(dev.wait_running(nrings));
  auto running = dev.running();
  for (uint16_t i = 0; i < nrings; ++i) {
    const VringSetup& s = running.at(i);
    EXPECT_EQ(s.size, 256);
    // The back-end maps the memfd itself: other pointers, same bytes.
    mem.ring_base(i)[0] = static_cast<uint8_t>(0xa0 + i);
    EXPECT_EQ(s.desc[0], 0xa0 + i);
    EXPECT_EQ(s.avail - s.desc, mem.avail(i) - mem.ring_base(i));
    EXPECT_TRUE(s.enabled);
    EXPECT_GE(s.kick_fd, 0);
    EXPECT_GE(s.call_fd, 0);
  }
  EXPECT_EQ(dev.count(Hook::set_mtu), 1u);

  // The back-end's view of ring 3 is the driver's memory (a separate mapping of the memfd).
  mem.set_avail_idx(3, 17);
  uint16_t idx3[] = {3};
  auto bases = fe->stop_rings(idx3);
  ASSERT_TRUE(bases.ok()) << bases.error().message();
  EXPECT_EQ(bases.value()[0], 17);
  EXPECT_EQ(dev.running_count(), nrings - 1u);
}

TEST_F(FrontendBackendTest, DisconnectResetsDeviceAndReleasesEverything) {
  DriverMemory mem(8, 256);
  Rings fds(8);
  // Warm up once so that lazily created fds/mappings (ASan, logging) do not count as leaks.
  for (int round = 0; round < 2; ++round) {
    auto fe = Frontend::connect(path, 2s).value();
    ASSERT_TRUE(fe.bring_up(bring_up_config(mem, fds, 8)).ok());
    ASSERT_TRUE(dev.wait_running(8));
    fe.close();
    ASSERT_TRUE(svc->wait_connected(id, false, 5s));
  }
  const size_t fds_before = count_open_fds();
  const size_t maps_before = count_mappings();
  const size_t resets_before = dev.count(Hook::reset);
  for (int round = 0; round < 20; ++round) {
    auto fe = Frontend::connect(path, 2s).value();
    auto n = fe.bring_up(bring_up_config(mem, fds, 8));
    ASSERT_TRUE(n.ok()) << n.error().message();
    ASSERT_TRUE(dev.wait_running(8));
    EXPECT_EQ(count_memfd_mappings("vu-test"), 2u);  // ours + the back-end's
    fe.close();
    ASSERT_TRUE(svc->wait_connected(id, false, 5s));
    EXPECT_EQ(dev.running_count(), 0u);
  }
  EXPECT_EQ(dev.count(Hook::reset), resets_before + 20);
  EXPECT_EQ(dev.reset_with_running_rings(), 0);  // rings are stopped before reset
  EXPECT_EQ(dev.bogus_stops(), 0);
  EXPECT_EQ(count_memfd_mappings("vu-test"), 1u);  // only ours is left
  EXPECT_EQ(count_open_fds(), fds_before);
  EXPECT_LE(count_mappings(), maps_before + 10);  // allocator noise, not 20 rounds of mappings
  auto st = svc->state(id).value();
  EXPECT_EQ(st.connections, 22u);
}

}  // namespace
}  // namespace vnet::vhost_user::testing
