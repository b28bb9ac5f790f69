#include <fcntl.h>
#include <gtest/gtest.h>

#include "base/eventfd.h"
#include "base/fd.h"
#include "base/memfd.h"

namespace vnet {
namespace {

TEST(UniqueFd, ClosesOnceOnDestructionAndMove) {
  int raw;
  {
    auto e = make_eventfd();
    ASSERT_TRUE(e.ok());
    raw = e.value().get();
    UniqueFd moved = std::move(e.value());
    EXPECT_FALSE(e.value().valid());
    EXPECT_EQ(moved.get(), raw);
    EXPECT_GE(fcntl(raw, F_GETFD), 0);
  }
  EXPECT_EQ(fcntl(raw, F_GETFD), -1);
}

TEST(EventFd, SignalAndDrainCount) {
  auto e = make_eventfd();
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(eventfd_drain(e->get()), 0u);
  EXPECT_TRUE(eventfd_signal(e->get()));
  EXPECT_TRUE(eventfd_signal(e->get()));
  EXPECT_EQ(eventfd_drain(e->get()), 2u);
  EXPECT_EQ(eventfd_drain(e->get()), 0u);
}

TEST(Memfd, MappingIsSharedThroughTheFd) {
  auto m = MemfdMapping::create("t", 8192);
  ASSERT_TRUE(m.ok());
  m->data()[100] = 42;
  uint8_t b = 0;
  ASSERT_EQ(pread(m->fd(), &b, 1, 100), 1);
  EXPECT_EQ(b, 42);
}

}  // namespace
}  // namespace vnet
