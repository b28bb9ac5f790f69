#include "dataplane/poll_thread.h"

#include <pthread.h>

#include <mutex>

#include "base/cpu.h"
#include "base/eventfd.h"
#include "base/log.h"
#include "dataplane/adaptive_idle.h"
#include "dataplane/datapath.h"
#include "dataplane/port.h"

namespace vnet::dataplane {
namespace {
constexpr uint64_t kWakeCookie = ~0ull;
}

PollThread::PollThread(Datapath& dp, unsigned index, int core) : dp_(dp), index_(index), core_(core) {}

PollThread::~PollThread() {
  request_stop();
  join();
}

Status PollThread::start() {
  auto efd = make_eventfd();
  if (!efd) return efd.error();
  wake_fd_ = std::move(efd.value());
  Status status;
  std::atomic<int> started{0};
  thread_ = std::thread([this, &status, &started] { run(&status, &started); });
  while (started.load(std::memory_order_acquire) == 0) started.wait(0, std::memory_order_acquire);
  return status;
}

void PollThread::request_stop() {
  stop_.store(true, std::memory_order_relaxed);
  wake();
}

void PollThread::join() {
  if (thread_.joinable()) thread_.join();
}

void PollThread::wake() {
  if (wake_fd_) eventfd_signal(wake_fd_.get());
}

void PollThread::run(Status* start_status, std::atomic<int>* started) {
  {
    char name[16];
    snprintf(name, sizeof name, "vnet-pmd%u", index_);
    pthread_setname_np(pthread_self(), name);
  }
  if (core_ >= 0) {
    Status s = pin_current_thread(core_);
    if (!s) {
      *start_status = s;
      started->store(1, std::memory_order_release);
      started->notify_one();
      return;
    }
  }
  started->store(1, std::memory_order_release);
  started->notify_one();

  Qsbr::Reader reader(Qsbr::global());
  TxContext::set_current(this);
  uint64_t seen_version = 0;
  uint64_t idle_since = 0;     // adaptive: start of the current run of empty rounds (0: busy)
  const uint64_t configured_idle_ns = uint64_t{dp_.options_.adaptive_idle_us} * 1000;
  uint64_t idle_ns = configured_idle_ns;  // adaptive: current idle time (adaptive_idle.h)
  bool woke = false;           // notifications were armed for the last sleep
  while (!stop_.load(std::memory_order_relaxed)) {
    // Nothing from the previous round is referenced past this point.
    reader.quiescent();
    // Acquire: pairs with the release publish; the plan's contents are visible.
    const Plan* plan = dp_.plan_.load(std::memory_order_acquire);
    const ThreadPlan& tp = plan->threads[index_];
    cur_ = &tp;
    const PollMode mode = dp_.mode_.load(std::memory_order_relaxed);
    if (plan->version != seen_version || woke) {
      // Queues handed over by another thread (or armed for our sleep) may have notifications
      // enabled; polling modes want them off so that guests do not kick needlessly.
      if (mode != PollMode::interrupt)
        for (const auto& s : tp.rx) s.port->disable_notify(s.queue);
      seen_version = plan->version;
      woke = false;
    }
    const bool work = poll_round(tp);
    stats_.add_iterations(1);
    if (work) {
      idle_since = 0;
      continue;
    }
    if (mode == PollMode::busy && !tp.rx.empty()) continue;
    if (mode == PollMode::adaptive && !tp.rx.empty()) {
      const uint64_t now = monotonic_ns();
      if (idle_since == 0) {
        idle_since = now;
        continue;
      }
      if (now - idle_since < idle_ns) continue;
    }
    const uint64_t slept = sleep(tp, plan->version, reader);
    if (mode == PollMode::adaptive) idle_ns = next_adaptive_idle_ns(idle_ns, slept, configured_idle_ns);
    cur_ = nullptr;
    idle_since = 0;
    woke = true;
  }
  cur_ = nullptr;
  TxContext::set_current(nullptr);
}

bool PollThread::poll_round(const ThreadPlan& tp) {
  const uint32_t weight_packets = dp_.options_.weight_packets;
  const uint64_t weight_bytes = dp_.options_.weight_bytes;
  Forwarder& fwd = dp_.forwarder_;
  bool any = false;
  uint64_t empty = 0, with_work = 0, yields = 0, total_pkts = 0, total_bytes = 0;
  for (const RxSlot& s : tp.rx) {
    uint32_t pkts = 0;
    uint64_t bytes = 0;
    // Drain in bursts until the queue runs dry or the visit's budget is spent; the budget is
    // checked between bursts, so a visit overshoots it by less than one burst.
    for (;;) {
      const uint16_t n = s.port->receive(s.queue, burst_, kBurstSize);
      if (n == 0) break;
      for (uint16_t i = 0; i < n; ++i) bytes += burst_[i].len;
      fwd.forward(s.port, s.queue, burst_, n);
      s.port->receive_done(s.queue);
      pkts += n;
      if (n < kBurstSize) break;
      if (pkts >= weight_packets || bytes >= weight_bytes) {
        ++yields;
        break;
      }
    }
    if (pkts == 0) {
      ++empty;
      continue;
    }
    any = true;
    ++with_work;
    total_pkts += pkts;
    total_bytes += bytes;
  }
  stats_.add_empty_polls(empty);
  if (with_work) {
    stats_.add_work_polls(with_work);
    stats_.add_rx(total_pkts, total_bytes);
    stats_.add_budget_yields(yields);
  }
  return any;
}

uint16_t PollThread::transmit(Port* dest, const TxItem* items, uint16_t n) {
  if (cur_ != nullptr) {
    for (const TxTarget& t : cur_->tx) {
      if (t.port != dest) continue;
      if (t.lock) {
        std::lock_guard guard(*t.lock);
        dest->transmit(t.queue, items, n);
      } else {
        dest->transmit(t.queue, items, n);
      }
      return n;
    }
  }
  stats_.add_tx_unreachable(n);
  return 0;
}

void PollThread::rebuild_epoll(const ThreadPlan& tp) {
  // A fresh epoll set per plan: fds of removed ports may have been closed and their numbers
  // reused, so an incremental update could keep a stale registration.
  auto ep = Epoll::create();
  if (!ep) {
    log::error("poll thread {}: {}", index_, ep.error().message());
    epoll_.reset();
    return;
  }
  epoll_.emplace(std::move(ep.value()));
  registered_.clear();
  if (auto s = epoll_->add(wake_fd_.get(), EPOLLIN | EPOLLET, kWakeCookie); !s)
    log::error("poll thread {}: wake fd: {}", index_, s.error().message());
  for (const auto& s : tp.rx) {
    // Generation first: a change after reading it makes the next check rebuild again.
    const uint64_t gen = s.port->wait_fd_generation();
    const int fd = s.port->wait_fd(s.queue);
    registered_.push_back(Registered{fd, gen});
    if (fd < 0) continue;
    // EEXIST when two queues share an fd; anything else means we cannot sleep on this queue.
    if (auto st = epoll_->add(fd, EPOLLIN | EPOLLET, 0); !st && st.error().sys_errno() != EEXIST)
      log::warn("poll thread {}: cannot wait on {} queue {}: {}", index_, s.port->name(), s.queue,
                st.error().message());
  }
}

bool PollThread::epoll_stale(const ThreadPlan& tp, uint64_t plan_version) const {
  if (!epoll_ || epoll_version_ != plan_version || registered_.size() != tp.rx.size()) return true;
  for (size_t i = 0; i < tp.rx.size(); ++i) {
    const RxSlot& s = tp.rx[i];
    if (s.port->wait_fd_generation() != registered_[i].generation || s.port->wait_fd(s.queue) != registered_[i].fd)
      return true;
  }
  return false;
}

uint64_t PollThread::sleep(const ThreadPlan& tp, uint64_t plan_version, Qsbr::Reader& reader) {
  // Arm notifications, then re-check: work that arrived before the arming is reported here,
  // work after it kicks the fd (the race every virtio back-end must close).
  bool pending = false;
  for (const auto& s : tp.rx)
    if (s.port->enable_notify(s.queue)) pending = true;
  if (pending) return 0;
  if (epoll_stale(tp, plan_version)) {
    rebuild_epoll(tp);
    epoll_version_ = plan_version;
  }
  stats_.add_sleeps(1);
  epoll_event events[16];
  // Offline: the control path does not wait for us while we block; nothing from tp is used
  // after this point (the plan may be freed while we sleep).
  reader.offline();
  int n = 0;
  const uint64_t start = monotonic_ns();
  if (!stop_.load(std::memory_order_relaxed) && epoll_)
    n = epoll_->wait(events, static_cast<int>(dp_.options_.sleep_timeout_ms));
  const uint64_t slept = monotonic_ns() - start;
  reader.online();
  if (n > 0) stats_.add_wakeups(1);
  return slept;
}

}  // namespace vnet::dataplane
