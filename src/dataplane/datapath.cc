#include "dataplane/datapath.h"

#include <algorithm>

#include "base/log.h"
#include "base/qsbr.h"
#include "dataplane/poll_thread.h"

namespace vnet::dataplane {

Status DatapathOptions::validate() const {
  if (threads == 0 || threads > kMaxPollThreads)
    return Error("poll threads must be between 1 and " + std::to_string(kMaxPollThreads));
  if (!cores.empty() && cores.size() != threads)
    return Error("pmd cores: " + std::to_string(cores.size()) + " cores given for " +
                 std::to_string(threads) + " threads");
  for (int c : cores)
    if (c < 0) return Error("pmd cores: negative core " + std::to_string(c));
  if (weight_packets == 0 || weight_bytes == 0) return Error("poll weights must be positive");
  if (sleep_timeout_ms == 0 || queue_check_ms == 0) return Error("timeouts must be positive");
  return {};
}

Datapath::Datapath(Forwarder& forwarder, DatapathOptions options)
    : forwarder_(forwarder), options_(std::move(options)), mode_(options_.mode) {
  assignment_.resize(options_.threads);
  current_ = std::make_unique<Plan>(build_plan(0, assignment_, {}, false));
  plan_.store(current_.get(), std::memory_order_release);
}

Result<std::unique_ptr<Datapath>> Datapath::create(Forwarder& forwarder, DatapathOptions options) {
  if (auto s = options.validate(); !s) return s.error();
  std::unique_ptr<Datapath> dp(new Datapath(forwarder, std::move(options)));
  for (unsigned i = 0; i < dp->options_.threads; ++i) {
    const int core = dp->options_.cores.empty() ? -1 : dp->options_.cores[i];
    dp->threads_.push_back(std::make_unique<PollThread>(*dp, i, core));
    if (auto s = dp->threads_.back()->start(); !s) {
      dp->stop();
      return s.error();
    }
  }
  dp->monitor_ = std::thread([p = dp.get()] { p->monitor_loop(); });
  log::info("datapath: {} poll thread(s), {} mode", dp->options_.threads, to_string(dp->options_.mode));
  return dp;
}

Datapath::~Datapath() { stop(); }

void Datapath::stop() {
  {
    std::lock_guard lock(monitor_mu_);
    stopping_ = true;
  }
  monitor_cv_.notify_all();
  if (monitor_.joinable()) monitor_.join();
  for (auto& t : threads_) t->request_stop();
  for (auto& t : threads_) t->join();
  threads_.clear();
}

Status Datapath::add_port(Port* p) {
  std::lock_guard lock(mu_);
  for (const auto& e : ports_)
    if (e.port == p) return Error("port " + p->name() + " is already in the datapath");
  ports_.push_back(PortEntry{p, 0, p->wait_fd_generation(), std::make_unique<TxLocks>()});
  replan_locked(true);
  return {};
}

Status Datapath::remove_port(Port* p) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(ports_.begin(), ports_.end(), [p](const PortEntry& e) { return e.port == p; });
  if (it == ports_.end()) return Error("port " + p->name() + " is not in the datapath");
  // Keep its locks alive until no thread can hold them (replan ends with a synchronize).
  std::unique_ptr<TxLocks> locks = std::move(it->locks);
  ports_.erase(it);
  replan_locked(true);
  return {};
}

void Datapath::refresh() {
  std::lock_guard lock(mu_);
  bool fds_changed = false;
  for (auto& e : ports_) {
    const uint64_t g = e.port->wait_fd_generation();
    if (g != e.fd_generation) {
      e.fd_generation = g;
      fds_changed = true;
    }
  }
  replan_locked(false);
  // A thread asleep on a replaced fd would not wake for the new one: wake it to re-register.
  if (fds_changed)
    for (auto& t : threads_) t->wake();
}

void Datapath::set_poll_mode(PollMode mode) {
  mode_.store(mode, std::memory_order_relaxed);
  for (auto& t : threads_) t->wake();
}

void Datapath::publish_locked(Plan plan) {
  plan.version = next_version_++;
  auto next = std::make_unique<Plan>(std::move(plan));
  // Release: a thread that loads the pointer sees the plan's contents.
  plan_.store(next.get(), std::memory_order_release);
  // Every thread is now between rounds past the publish (or asleep): nobody uses the old plan.
  Qsbr::global().synchronize();
  current_ = std::move(next);
}

void Datapath::replan_locked(bool force) {
  // Queue counts as the ports report them now; the old ones are what the current plan uses.
  std::vector<PlannedPort> before, after;
  bool counts_changed = false;
  for (auto& e : ports_) {
    const uint16_t nq = e.port->num_queues();
    before.push_back(PlannedPort{e.port, e.num_queues, e.locks.get()});
    after.push_back(PlannedPort{e.port, nq, e.locks.get()});
    if (nq != e.num_queues) counts_changed = true;
  }
  if (!force && !counts_changed) return;

  const RxAssignment next = rebalance(assignment_, after, options_.threads);
  const RxAssignment kept = intersect(assignment_, next);
  const bool rx_moved = kept != assignment_;
  // Transitions that keep every queue safe (a thread may run one more round on the old plan):
  //  1. receive: drop pairs that leave a thread before another thread gets them;
  //     transmit: old queue choice but every queue locked, so that
  //  2. switching to the new queue choice (still all locked) never meets an unlocked writer;
  //  3. final plan: new assignment, locks only where threads share a queue.
  // A removed port is absent from all three, so after step 3 no thread can reach it.
  if (rx_moved || counts_changed) {
    publish_locked(build_plan(0, kept, before, true));
    if (counts_changed) publish_locked(build_plan(0, kept, after, true));
  }
  publish_locked(build_plan(0, next, after, false));
  assignment_ = next;
  for (size_t i = 0; i < ports_.size(); ++i) ports_[i].num_queues = after[i].num_queues;
  // Sleeping threads must re-register their fds and pick up new queues.
  for (auto& t : threads_) t->wake();
}

void Datapath::monitor_loop() {
  std::unique_lock lk(monitor_mu_);
  while (!stopping_) {
    monitor_cv_.wait_for(lk, std::chrono::milliseconds(options_.queue_check_ms));
    if (stopping_) break;
    lk.unlock();
    refresh();
    lk.lock();
  }
}

std::vector<PollThreadInfo> Datapath::threads() const {
  std::lock_guard lock(mu_);
  std::vector<PollThreadInfo> out;
  for (const auto& t : threads_) {
    PollThreadInfo info{t->index(), t->core(), {}, t->stats().snapshot()};
    for (const auto& s : assignment_[t->index()]) info.queues.push_back(QueueRef{s.port->name(), s.queue});
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace vnet::dataplane
