// A front-end that truncates its guest memory file under a running back-end costs it its
// connection, not the process its life (mem/sigbus_guard.h), and the endpoint serves the next
// front-end. Without the guard the back-end's read of the vanished avail ring is a SIGBUS.
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/eventfd.h"
#include "test_support.h"
#include "vhost_user/service.h"

namespace vnet::vhost_user::testing {
namespace {

struct Rings {
  std::vector<UniqueFd> kicks, calls;
  BringUpConfig config(const DriverMemory& mem, uint16_t n) {
    BringUpConfig c;
    c.driver_features = default_device_features();
    c.regions = {mem.region()};
    for (uint16_t i = 0; i < n; ++i) {
      kicks.push_back(make_eventfd().value());
      calls.push_back(make_eventfd().value());
      c.rings.push_back(FrontendRing{i, mem.qsize, mem.addresses(i), 0, kicks.back().get(), calls.back().get(), true});
    }
    return c;
  }
};

TEST(TruncatedMemory, FrontendIsDroppedAndTheEndpointServesTheNextOne) {
  FakeDevice dev(1);  // stop_ring reads the avail index from guest memory
  auto svc = Service::start().value();
  const std::string path = socket_path("truncate");
  auto id = svc->add_endpoint(EndpointConfig{path}, dev).value();
  {
    DriverMemory mem(2, 128);
    Rings rings;
    auto fe = Frontend::connect(path, std::chrono::seconds(30)).value();
    ASSERT_TRUE(fe.bring_up(rings.config(mem, 2)).ok());
    ASSERT_TRUE(dev.wait_running(2));
    ASSERT_EQ(::ftruncate(mem.mem.fd(), 0), 0);
    const uint16_t indexes[] = {0, 1};
    (void)fe.stop_rings(indexes);  // the back-end reads both avail rings, now gone from the file
    ASSERT_TRUE(svc->wait_connected(id, false, std::chrono::seconds(30)));
    auto st = svc->state(id);
    ASSERT_TRUE(st);
    EXPECT_NE(st->last_error.find("truncated its guest memory"), std::string::npos) << st->last_error;
    EXPECT_EQ(dev.running_count(), 0u);
  }
  DriverMemory mem(2, 128);
  Rings rings;
  auto fe = Frontend::connect(path, std::chrono::seconds(30)).value();
  ASSERT_TRUE(fe.bring_up(rings.config(mem, 2)).ok());
  ASSERT_TRUE(dev.wait_running(2));
  mem.set_avail_idx(0, 9);
  const uint16_t indexes[] = {0};
  auto bases = fe.stop_rings(indexes);
  ASSERT_TRUE(bases) << bases.error().message();
  EXPECT_EQ(bases.value()[0], 9) << "the new front-end's memory is read for real";
  ASSERT_TRUE(svc->remove_endpoint(id).ok());
}

}  // namespace
}  // namespace vnet::vhost_user::testing
