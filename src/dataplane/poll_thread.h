// One poll thread of a Datapath: owns the (port, queue) pairs its plan lists, and is the
// TxContext of everything the forwarder transmits from it.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "base/epoll.h"
#include "base/error.h"
#include "base/fd.h"
#include "base/qsbr.h"
#include "dataplane/packet.h"
#include "dataplane/plan.h"
#include "dataplane/poll_mode.h"
#include "dataplane/poll_thread_stats.h"
#include "dataplane/tx_context.h"

namespace vnet::dataplane {

class Datapath;

class PollThread final : public TxContext {
 public:
  PollThread(Datapath& dp, unsigned index, int core);
  ~PollThread() override;
  // Starts the thread; returns once it is running (and pinned, or the pin error).
  Status start();
  void request_stop();
  void join();
  // Wakes the thread if it sleeps (new plan, new mode, stop).
  void wake();

  unsigned index() const { return index_; }
  int core() const { return core_; }
  const PollThreadStats& stats() const { return stats_; }

  uint16_t transmit(Port* dest, const TxItem* items, uint16_t n) override;

 private:
  void run(Status* start_status, std::atomic<int>* started);
  // One visit of every owned queue; true if any packet was received.
  bool poll_round(const ThreadPlan& tp);
  // Arms notifications, re-checks, and sleeps in epoll unless work arrived meanwhile.
  // Returns how long the thread slept in nanoseconds (0: work arrived while arming).
  uint64_t sleep(const ThreadPlan& tp, uint64_t plan_version, Qsbr::Reader& reader);
  void rebuild_epoll(const ThreadPlan& tp);
  bool epoll_stale(const ThreadPlan& tp, uint64_t plan_version) const;

  Datapath& dp_;
  const unsigned index_;
  const int core_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  UniqueFd wake_fd_;
  std::optional<Epoll> epoll_;
  uint64_t epoll_version_ = 0;  // plan version epoll_ was built for
  // What epoll_ holds per owned queue, to notice fds replaced under the same plan.
  struct Registered {
    int fd;
    uint64_t generation;
  };
  std::vector<Registered> registered_;
  const ThreadPlan* cur_ = nullptr;  // the plan of the current round (for transmit)
  PollThreadStats stats_;
  Packet burst_[kBurstSize];
};

}  // namespace vnet::dataplane
