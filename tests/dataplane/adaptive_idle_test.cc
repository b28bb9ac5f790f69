// Adaptive mode's idle time: doubles after pointless sleeps, bounded, and returns to the
// configured value once traffic really stops.
#include "dataplane/adaptive_idle.h"

#include <gtest/gtest.h>

namespace vnet::dataplane {
namespace {

constexpr uint64_t kUs = 1000;
constexpr uint64_t kBase = 200 * kUs;

TEST(AdaptiveIdle, ShortSleepsDoubleTheIdleTimeUpToTheCap) {
  uint64_t idle = kBase;
  idle = next_adaptive_idle_ns(idle, 0, kBase);  // work showed up while arming
  EXPECT_EQ(idle, 2 * kBase);
  idle = next_adaptive_idle_ns(idle, 50 * kUs, kBase);  // woken by a kick almost at once
  EXPECT_EQ(idle, 4 * kBase);
  for (int i = 0; i < 20; ++i) idle = next_adaptive_idle_ns(idle, 10 * kUs, kBase);
  EXPECT_EQ(idle, kMaxIdleFactor * kBase) << "an idle thread still sleeps after a bounded time";
}

TEST(AdaptiveIdle, LongSleepsGoBackToTheConfiguredTime) {
  uint64_t idle = kMaxIdleFactor * kBase;
  idle = next_adaptive_idle_ns(idle, 1'000'000 * kUs, kBase);
  EXPECT_EQ(idle, kMaxIdleFactor * kBase / 2);
  for (int i = 0; i < 10; ++i) idle = next_adaptive_idle_ns(idle, 1'000'000 * kUs, kBase);
  EXPECT_EQ(idle, kBase) << "never below what the user configured";
}

TEST(AdaptiveIdle, ASleepAsLongAsTheIdleTimeIsNotPointless) {
  EXPECT_EQ(next_adaptive_idle_ns(4 * kBase, 4 * kBase, kBase), 2 * kBase);
  EXPECT_EQ(next_adaptive_idle_ns(4 * kBase, 4 * kBase - 1, kBase), 8 * kBase);
}

}  // namespace
}  // namespace vnet::dataplane
