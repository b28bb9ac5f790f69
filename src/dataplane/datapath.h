// The poll threads: N threads (optionally pinned) that own (port, queue) pairs, receive bursts,
// hand them to the forwarder and transmit through TxContext. Ports come and go at run time.
//
// Threading: every public method is control path (may block, must not be called from a poll
// thread). Poll threads are QSBR readers of Qsbr::global(): they pass a quiescent point between
// rounds and are offline while sleeping, so the forwarder may use the same domain for its own
// tables.
//
// Port contract (vhost-user and tap ports): receive()/transmit()/enable_notify()/
// disable_notify() on a queue at or above num_queues() must be harmless (return 0 / drop and
// count) because a thread may still use a queue for one round after it went away. wait_fd(q)
// is registered EPOLLIN | EPOLLET and never read by the datapath: every kick (eventfd write)
// or arriving tap frame wakes a sleeping thread; the port may drain its eventfd if it counts
// kicks. receive_done(q) is called only after a receive(q) that returned packets.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "dataplane/forwarder.h"
#include "dataplane/plan.h"
#include "dataplane/poll_mode.h"
#include "dataplane/poll_thread_stats.h"
#include "dataplane/port.h"

namespace vnet::dataplane {

class PollThread;

struct DatapathOptions {
  unsigned threads = 1;               // 1 .. kMaxPollThreads
  std::vector<int> cores;             // thread i pinned to cores[i]; empty: not pinned
  PollMode mode = PollMode::adaptive;
  uint32_t adaptive_idle_us = 100;    // adaptive: idle time before arming notifications
  uint32_t sleep_timeout_ms = 500;    // longest sleep (a safety net: control changes wake threads)
  uint32_t weight_packets = 256;      // per queue visit (like VHOST_NET_PKT_WEIGHT)
  uint32_t weight_bytes = 0x80000;    // per queue visit (like VHOST_NET_WEIGHT)
  uint32_t queue_check_ms = 50;       // how often num_queues() of every port is re-read

  Status validate() const;
};

struct QueueRef {
  std::string port;
  uint16_t queue;
};

struct PollThreadInfo {
  unsigned index;
  int core;  // -1: not pinned
  std::vector<QueueRef> queues;
  PollThreadCounters counters;
};

class Datapath {
 public:
  // Starts the threads (pinned if asked; fails if pinning fails).
  static Result<std::unique_ptr<Datapath>> create(Forwarder& forwarder, DatapathOptions options);
  ~Datapath();  // stops and joins the threads; ports are not owned
  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;

  // Starts polling p's queues (now and whenever num_queues() grows). p must outlive its
  // membership. Error if already added or too many ports.
  Status add_port(Port* p);
  // Returns once no poll thread touches p any more (receive, transmit, notify): p may then be
  // destroyed. Other ports keep forwarding meanwhile. Error if p was not added.
  Status remove_port(Port* p);
  // Re-reads num_queues() of every port now and rebalances if one changed, and wakes sleeping
  // threads if a port's wait_fd_generation() changed (so they re-register its fds). Also done
  // every queue_check_ms; call it after a front-end connected or restarted rings for faster
  // pickup.
  void refresh();

  void set_poll_mode(PollMode mode);
  PollMode poll_mode() const { return mode_.load(std::memory_order_relaxed); }
  const DatapathOptions& options() const { return options_; }

  // For `vnetctl show`: each thread's core, (port, queue) pairs and counters.
  std::vector<PollThreadInfo> threads() const;

 private:
  friend class PollThread;
  struct PortEntry {
    Port* port;
    uint16_t num_queues;  // as of the published plan
    uint64_t fd_generation;  // wait_fd_generation() last seen
    std::unique_ptr<TxLocks> locks;
  };

  Datapath(Forwarder& forwarder, DatapathOptions options);
  // With mu_ held: brings the published plan in line with ports_ (re-reading num_queues()),
  // through the intermediate plans that keep every queue single-threaded. `force` publishes even
  // when nothing changed.
  void replan_locked(bool force);
  void publish_locked(Plan plan);
  void monitor_loop();
  void stop();

  Forwarder& forwarder_;
  const DatapathOptions options_;
  std::atomic<PollMode> mode_;

  // Read by poll threads once per round.
  std::atomic<const Plan*> plan_{nullptr};

  mutable std::mutex mu_;  // control path: ports_, assignment_, plans
  std::vector<PortEntry> ports_;
  RxAssignment assignment_;
  std::unique_ptr<Plan> current_;
  uint64_t next_version_ = 1;

  std::vector<std::unique_ptr<PollThread>> threads_;
  std::thread monitor_;
  std::mutex monitor_mu_;
  std::condition_variable monitor_cv_;
  bool stopping_ = false;
};

}  // namespace vnet::dataplane
