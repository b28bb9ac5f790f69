// Notices a vhost-user back-end hanging up after bring-up. Once the rings run, nothing reads the
// vhost-user socket any more, and a dead back-end just stops moving the rings: without this a
// run would go on, silently idle, until --duration. The main thread waits on the socket between
// progress checks instead of sleeping.
#pragma once

namespace vnet::perf {

class LinkWatch {
 public:
  // fd: the vhost-user socket (borrowed), or -1 (nothing to watch: wait() just sleeps).
  explicit LinkWatch(int fd) : fd_(fd) {}
  // Waits up to timeout_ms; true once the peer has closed the connection (or it failed).
  // Data the back-end might send is left unread and does not end the wait early.
  bool wait_hangup(int timeout_ms);

 private:
  int fd_;
};

}  // namespace vnet::perf
