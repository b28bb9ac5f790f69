// Thin epoll wrapper: the poll threads and control loops sleep here.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <span>

#include "base/error.h"
#include "base/fd.h"

namespace vnet {

class Epoll {
 public:
  static Result<Epoll> create();
  Status add(int fd, uint32_t events, uint64_t cookie);
  Status modify(int fd, uint32_t events, uint64_t cookie);
  void remove(int fd);
  // Waits up to timeout_ms (-1 forever); returns the number of events filled (0 on timeout or EINTR).
  int wait(std::span<epoll_event> events, int timeout_ms);
  int fd() const { return fd_.get(); }

 private:
  explicit Epoll(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace vnet
