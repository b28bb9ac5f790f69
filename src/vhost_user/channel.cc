#include "vhost_user/channel.h"

#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

namespace vnet::vhost_user {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on fd until the deadline; false on timeout.
Result<bool> wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("poll vhost-user socket");
    }
    return n > 0;
  }
}

}  // namespace

void Channel::close() {
  sock_.reset();
  hdr_got_ = 0;
  payload_.clear();
  payload_got_ = 0;
  fds_.clear();
}

Status Channel::send(const Message& msg, std::span<const int> fds, std::chrono::milliseconds timeout) {
  if (!sock_) return Error("vhost-user channel is closed");
  if (fds.size() > kMaxFdsPerMessage) return Error("too many fds for one vhost-user message");
  MessageHeader hdr = msg.hdr;
  hdr.size = static_cast<uint32_t>(msg.payload.size());
  iovec iov[2] = {{&hdr, sizeof(hdr)}, {const_cast<uint8_t*>(msg.payload.data()), msg.payload.size()}};
  size_t total = sizeof(hdr) + msg.payload.size();
  size_t sent = 0;
  auto deadline = Clock::now() + timeout;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  while (sent < total) {
    // Skip what went out already; fds ride with the first byte only.
    iovec rest[2];
    int niov = 0;
    size_t skip = sent;
    for (auto& v : iov) {
      if (skip >= v.iov_len) {
        skip -= v.iov_len;
        continue;
      }
      rest[niov++] = {static_cast<uint8_t*>(v.iov_base) + skip, v.iov_len - skip};
      skip = 0;
    }
    msghdr mh{};
    mh.msg_iov = rest;
    mh.msg_iovlen = niov;
    if (sent == 0 && !fds.empty()) {
      std::memset(control, 0, sizeof(control));
      mh.msg_control = control;
      mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t n = ::sendmsg(sock_.get(), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        auto ready = wait_for(sock_.get(), POLLOUT, deadline);
        if (!ready) return ready.error();
        if (!ready.value()) return Error("timed out sending vhost-user " + std::string(request_name(hdr.request)));
        continue;
      }
      return sys_error("send vhost-user " + std::string(request_name(hdr.request)));
    }
    sent += static_cast<size_t>(n);
  }
  return {};
}

Status Channel::read_some(uint8_t* dst, size_t want, size_t& got) {
  while (got < want) {
    iovec iov{dst + got, want - got};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(sock_.get(), &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
      return sys_error("receive on vhost-user socket");
    }
    // Take ownership of every fd first so that nothing leaks on any error below.
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fds_.emplace_back(fd);
      }
    }
    if (mh.msg_flags & MSG_CTRUNC) return Error("vhost-user message carries more than " + std::to_string(kMaxFdsPerMessage) + " fds");
    if (fds_.size() > kMaxFdsPerMessage) return Error("vhost-user message carries more than " + std::to_string(kMaxFdsPerMessage) + " fds");
    if (n == 0) {
      peer_closed_ = true;
      return Error(hdr_got_ == 0 && payload_got_ == 0 ? "peer closed the vhost-user connection"
                                                      : "peer closed the vhost-user connection in the middle of a message");
    }
    got += static_cast<size_t>(n);
  }
  return {};
}

Result<bool> Channel::try_recv(Message& out) {
  if (!sock_) return Error("vhost-user channel is closed");
  if (hdr_got_ < sizeof(hdr_)) {
    if (auto s = read_some(reinterpret_cast<uint8_t*>(&hdr_), sizeof(hdr_), hdr_got_); !s) return s.error();
    if (hdr_got_ < sizeof(hdr_)) return false;
    if (hdr_.size > kMaxPayloadSize)
      return Error("vhost-user " + std::string(request_name(hdr_.request)) + " payload of " + std::to_string(hdr_.size) +
                   " bytes exceeds " + std::to_string(kMaxPayloadSize));
    payload_.assign(hdr_.size, 0);
    payload_got_ = 0;
  }
  if (payload_got_ < payload_.size()) {
    if (auto s = read_some(payload_.data(), payload_.size(), payload_got_); !s) return s.error();
    if (payload_got_ < payload_.size()) return false;
  }
  out.hdr = hdr_;
  out.payload = std::move(payload_);
  out.fds = std::move(fds_);
  payload_.clear();
  fds_.clear();
  hdr_got_ = 0;
  payload_got_ = 0;
  return true;
}

Result<Message> Channel::recv(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  Message m;
  for (;;) {
    auto r = try_recv(m);
    if (!r) return r.error();
    if (r.value()) return m;
    auto ready = wait_for(sock_.get(), POLLIN, deadline);
    if (!ready) return ready.error();
    if (!ready.value()) return Error("timed out waiting for a vhost-user message");
  }
}

}  // namespace vnet::vhost_user
