// Which poll thread polls which (port, queue), and which queue of each destination a thread
// transmits on. A Plan is immutable once published; the datapath replaces it (QSBR) when ports
// or queue counts change, in steps that never let two threads use a queue unsafely (see
// datapath.cc).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "base/spinlock.h"

namespace vnet::dataplane {

class Port;

constexpr unsigned kMaxPollThreads = 64;

// One spinlock per destination queue a thread may pick. Thread t transmits on queue
// t % num_queues, so only queues below kMaxPollThreads ever need one. Padded so that threads
// writing different queues do not share a cache line.
struct alignas(64) PaddedSpinLock {
  SpinLock lock;
};
using TxLocks = std::array<PaddedSpinLock, kMaxPollThreads>;

struct RxSlot {
  Port* port;
  uint16_t queue;
  bool operator==(const RxSlot&) const = default;
};

struct TxTarget {
  Port* port;
  uint16_t queue;
  SpinLock* lock;  // null when no other thread can transmit on (port, queue)
};

struct ThreadPlan {
  std::vector<RxSlot> rx;
  std::vector<TxTarget> tx;  // ports with at least one queue
};

struct Plan {
  uint64_t version = 0;
  std::vector<ThreadPlan> threads;
};

// A port as the planner sees it.
struct PlannedPort {
  Port* port;
  uint16_t num_queues;
  TxLocks* locks;
};

// Per-thread receive assignment.
using RxAssignment = std::vector<std::vector<RxSlot>>;

// Keeps every still-valid (port, queue) on its thread, gives new pairs to the least loaded
// threads (round robin among equals), then moves pairs from the most to the least loaded
// thread until loads differ by at most one. Deterministic.
RxAssignment rebalance(const RxAssignment& previous, const std::vector<PlannedPort>& ports,
                       unsigned nthreads);

// Pairs that stay on the same thread in both assignments.
RxAssignment intersect(const RxAssignment& a, const RxAssignment& b);

// Builds the plan for an assignment. Thread t transmits to port p on queue t % num_queues;
// the queue's lock is used when more than one thread maps to it, or always if force_locks.
Plan build_plan(uint64_t version, const RxAssignment& rx, const std::vector<PlannedPort>& ports,
                bool force_locks);

}  // namespace vnet::dataplane
