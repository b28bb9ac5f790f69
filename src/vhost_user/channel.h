// One vhost-user connection's byte stream: sends and receives whole messages with their fds
// (SCM_RIGHTS). Reading is incremental and never blocks the caller beyond what it asked for, so
// a front-end that sends half a message cannot stall the control thread that serves other
// endpoints. Every fd received is owned (close-on-exec, closed unless the receiver keeps it).
#pragma once

#include <chrono>
#include <span>

#include "base/error.h"
#include "base/fd.h"
#include "vhost_user/message.h"

namespace vnet::vhost_user {

class Channel {
 public:
  Channel() = default;
  explicit Channel(UniqueFd socket) : sock_(std::move(socket)) {}
  Channel(Channel&&) noexcept = default;
  Channel& operator=(Channel&&) noexcept = default;

  int fd() const { return sock_.get(); }
  bool valid() const { return sock_.valid(); }
  void close();

  // Sends one message (header + payload) with `fds` attached (borrowed, not closed). Waits at
  // most `timeout` for socket buffer space.
  Status send(const Message& msg, std::span<const int> fds = {},
              std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Reads whatever is available without blocking. Returns true when `out` holds a complete
  // message, false when more bytes are needed. Errors (connection must be closed): the peer
  // closed it (peer_closed() is then true), a payload above kMaxPayloadSize, more than
  // kMaxFdsPerMessage fds, or a socket error.
  Result<bool> try_recv(Message& out);
  // Waits at most `timeout` for one complete message.
  Result<Message> recv(std::chrono::milliseconds timeout);

  bool peer_closed() const { return peer_closed_; }

 private:
  Status read_some(uint8_t* dst, size_t want, size_t& got);

  UniqueFd sock_;
  bool peer_closed_ = false;
  // The message being received.
  MessageHeader hdr_{};
  size_t hdr_got_ = 0;
  std::vector<uint8_t> payload_;
  size_t payload_got_ = 0;
  std::vector<UniqueFd> fds_;
};

}  // namespace vnet::vhost_user
