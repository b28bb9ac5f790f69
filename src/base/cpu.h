// CPU affinity and time helpers.
#pragma once

#include <cstdint>
#include <ctime>

#include "base/error.h"

namespace vnet {

// Pins the calling thread to one core.
Status pin_current_thread(int core);

inline uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// CPU time (user + system) consumed by this process so far, in nanoseconds.
inline uint64_t process_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace vnet
