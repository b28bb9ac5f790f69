#include "base/eventfd.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace vnet {

Result<UniqueFd> make_eventfd() {
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return sys_error("eventfd");
  return UniqueFd(fd);
}

bool eventfd_signal(int fd) {
  uint64_t one = 1;
  return ::write(fd, &one, sizeof(one)) == sizeof(one);
}

uint64_t eventfd_drain(int fd) {
  uint64_t v = 0;
  if (::read(fd, &v, sizeof(v)) != sizeof(v)) return 0;
  return v;
}

}  // namespace vnet
