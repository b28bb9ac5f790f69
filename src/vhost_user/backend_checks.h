// Checks on what a front-end hands the back-end with a message: fds and memory regions.
// Internal to the vhost_user layer (BackendConnection).
#pragma once

#include <string_view>

#include "base/error.h"
#include "vhost_user/message.h"

namespace vnet::vhost_user {

// Kick, call and err fds must be eventfds: the device polls, reads and writes them, and a pipe
// or socket in their place could block a poll thread.
Status check_eventfd(int fd, std::string_view what);
// QEMU, DPDK and our driver create their eventfds non-blocking already; making sure of it keeps
// a device thread from ever blocking on a front-end's fd.
void make_nonblocking(int fd);
// A region must be sane (non-empty, no overflow) and backed by a regular file (memfd, shm,
// hugetlbfs) at least as large as what we map: touching a mapping beyond the end of the file
// would raise SIGBUS in a poll thread.
Status check_region(const MemRegion& r, int fd, size_t index);

}  // namespace vnet::vhost_user
