// Network namespaces for the tap tests and benchmark: created per test, deleted on scope exit
// (which also destroys every device left inside), commands run inside with hard timeouts, and
// code run inside from a helper thread (setns is per thread) so that TAP devices and sockets
// are created directly in the namespace.
#pragma once

#include <sched.h>

#include <fcntl.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>
#include <utility>

namespace vnet::ports::testing {

// Empty when root, /dev/net/tun and `ip netns` are usable; otherwise why not.
std::string tap_requirements_problem();

struct CmdResult {
  int status;  // exit status; 124 on timeout, -1 if it could not run
  std::string output;  // stdout and stderr
};

// Runs `sh -c cmd` with a hard timeout (seconds).
CmdResult run(const std::string& cmd, int timeout_s = 20);

class Netns {
 public:
  // Creates "vnt<pid>-<tag>" with loopback up and IPv6 off (no RS/MLD noise on test links).
  // Aborts the test process with a message when it cannot (the caller checked requirements).
  explicit Netns(const std::string& tag);
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;

  const std::string& name() const { return name_; }
  // `ip netns exec NAME sh -c cmd`.
  CmdResult exec(const std::string& cmd, int timeout_s = 20) const;
  // Runs fn() on a thread that entered this namespace; returns its result.
  template <class F>
  auto in(F fn) const -> decltype(fn()) {
    auto task = std::packaged_task<decltype(fn())()>([this, &fn] {
      enter();
      return fn();
    });
    auto result = task.get_future();
    std::thread(std::move(task)).join();
    return result.get();
  }

 private:
  void enter() const;
  std::string name_;
};

// Deletes namespaces "vnt<pid>-*" left behind by test processes that no longer exist.
void cleanup_stale_netns();

}  // namespace vnet::ports::testing
