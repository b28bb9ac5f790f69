#include "base/epoll.h"

#include <cerrno>

namespace vnet {

Result<Epoll> Epoll::create() {
  int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return sys_error("epoll_create1");
  return Epoll(UniqueFd(fd));
}

Status Epoll::add(int fd, uint32_t events, uint64_t cookie) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = cookie;
  if (::epoll_ctl(fd_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) return sys_error("epoll_ctl add");
  return {};
}

Status Epoll::modify(int fd, uint32_t events, uint64_t cookie) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = cookie;
  if (::epoll_ctl(fd_.get(), EPOLL_CTL_MOD, fd, &ev) < 0) return sys_error("epoll_ctl mod");
  return {};
}

void Epoll::remove(int fd) { ::epoll_ctl(fd_.get(), EPOLL_CTL_DEL, fd, nullptr); }

int Epoll::wait(std::span<epoll_event> events, int timeout_ms) {
  int n = ::epoll_wait(fd_.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
  return n < 0 ? 0 : n;
}

}  // namespace vnet
