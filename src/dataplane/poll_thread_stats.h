// Counters of one poll thread. Written only by that thread (relaxed load + store, no locked
// instruction) and read by the control path at any time.
#pragma once

#include <atomic>
#include <cstdint>

namespace vnet::dataplane {

struct PollThreadCounters {
  uint64_t iterations = 0;       // rounds over the owned queues
  uint64_t empty_polls = 0;      // queue visits that received nothing
  uint64_t work_polls = 0;       // queue visits that received at least one packet
  uint64_t rx_packets = 0;       // packets received and forwarded
  uint64_t rx_bytes = 0;
  uint64_t budget_yields = 0;    // visits cut short by the packet/byte weight (fairness)
  uint64_t sleeps = 0;           // times the thread blocked in epoll
  uint64_t wakeups = 0;          // sleeps ended by an event (kick, fd, control) not a timeout
  uint64_t tx_unreachable = 0;   // items a forwarder sent to a port this thread cannot reach
};

class PollThreadStats {
 public:
  void add_iterations(uint64_t v) { bump(iterations_, v); }
  void add_empty_polls(uint64_t v) { bump(empty_polls_, v); }
  void add_work_polls(uint64_t v) { bump(work_polls_, v); }
  void add_rx(uint64_t packets, uint64_t bytes) { bump(rx_packets_, packets); bump(rx_bytes_, bytes); }
  void add_budget_yields(uint64_t v) { bump(budget_yields_, v); }
  void add_sleeps(uint64_t v) { bump(sleeps_, v); }
  void add_wakeups(uint64_t v) { bump(wakeups_, v); }
  void add_tx_unreachable(uint64_t v) { bump(tx_unreachable_, v); }

  PollThreadCounters snapshot() const {
    PollThreadCounters c;
    c.iterations = iterations_.load(std::memory_order_relaxed);
    c.empty_polls = empty_polls_.load(std::memory_order_relaxed);
    c.work_polls = work_polls_.load(std::memory_order_relaxed);
    c.rx_packets = rx_packets_.load(std::memory_order_relaxed);
    c.rx_bytes = rx_bytes_.load(std::memory_order_relaxed);
    c.budget_yields = budget_yields_.load(std::memory_order_relaxed);
    c.sleeps = sleeps_.load(std::memory_order_relaxed);
    c.wakeups = wakeups_.load(std::memory_order_relaxed);
    c.tx_unreachable = tx_unreachable_.load(std::memory_order_relaxed);
    return c;
  }

 private:
  // Single writer: a plain add published with a relaxed store is enough for readers that only
  // want a recent value.
  static void bump(std::atomic<uint64_t>& a, uint64_t v) {
    a.store(a.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }
  std::atomic<uint64_t> iterations_{0}, empty_polls_{0}, work_polls_{0}, rx_packets_{0},
      rx_bytes_{0}, budget_yields_{0}, sleeps_{0}, wakeups_{0}, tx_unreachable_{0};
};

}  // namespace vnet::dataplane
