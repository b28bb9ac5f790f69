// eventfd helpers: kick and call notifications between driver and device are eventfds.
#pragma once

#include "base/error.h"
#include "base/fd.h"

namespace vnet {

// Creates a nonblocking, close-on-exec eventfd.
Result<UniqueFd> make_eventfd();
// Adds 1 to the counter. Returns false if the write failed (e.g. a closed peer); never blocks.
bool eventfd_signal(int fd);
// Reads and resets the counter; returns the count, 0 if nothing was pending.
uint64_t eventfd_drain(int fd);

}  // namespace vnet
