// Adaptive mode's idle time before a poll thread sleeps, adapted to the traffic.
//
// Sleeping costs the guest a kick (an eventfd write) and us a wake-up. When traffic pauses
// only briefly (a generator descheduled for a time slice, a TCP sender waiting for ACKs), the
// sleep is over almost at once and both were paid for nothing; the thread then also runs
// behind for a while. So: a sleep that ended before the idle time it followed (or that never
// started because work showed up when notifications were armed) doubles the idle time, up to
// kMaxIdleFactor times the configured one; a sleep longer than that means the traffic really
// stopped and the idle time halves back towards the configured one. An idle thread still goes
// to sleep after at most kMaxIdleFactor x the configured time, so idle CPU stays bounded.
#pragma once

#include <algorithm>
#include <cstdint>

namespace vnet::dataplane {

constexpr uint64_t kMaxIdleFactor = 16;

// `current`: the idle time the last sleep followed; `slept_ns`: how long it slept (0: it did
// not, work arrived while arming); `configured`: the user's idle time. All in nanoseconds.
constexpr uint64_t next_adaptive_idle_ns(uint64_t current, uint64_t slept_ns, uint64_t configured) {
  if (slept_ns < current) return std::min(current * 2, configured * kMaxIdleFactor);
  return std::max(current / 2, configured);
}

}  // namespace vnet::dataplane
