#include "apps/vnet_perf/link_watch.h"

#include <poll.h>
#include <time.h>

namespace vnet::perf {

bool LinkWatch::wait_hangup(int timeout_ms) {
  if (fd_ < 0) {
    const timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1'000'000L};
    ::nanosleep(&ts, nullptr);
    return false;
  }
  // POLLRDHUP rather than POLLIN: an unsolicited message (none is expected on this channel)
  // would keep POLLIN set and turn the wait into a spin.
  pollfd p{fd_, POLLRDHUP, 0};
  const int n = ::poll(&p, 1, timeout_ms);
  if (n < 0) return false;  // EINTR (a signal asking us to stop): the caller checks its flag
  return n > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace vnet::perf
