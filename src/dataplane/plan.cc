#include "dataplane/plan.h"

#include <algorithm>

namespace vnet::dataplane {
namespace {

bool contains(const std::vector<RxSlot>& v, const RxSlot& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

RxAssignment rebalance(const RxAssignment& previous, const std::vector<PlannedPort>& ports,
                       unsigned nthreads) {
  RxAssignment next(nthreads);
  auto valid = [&](const RxSlot& s) {
    for (const auto& p : ports)
      if (p.port == s.port) return s.queue < p.num_queues;
    return false;
  };
  std::vector<RxSlot> placed;
  for (unsigned t = 0; t < nthreads && t < previous.size(); ++t) {
    for (const auto& s : previous[t]) {
      if (valid(s)) {
        next[t].push_back(s);
        placed.push_back(s);
      }
    }
  }
  unsigned rr = 0;  // round-robin start among equally loaded threads
  auto least_loaded = [&]() {
    unsigned best = rr % nthreads;
    for (unsigned i = 0; i < nthreads; ++i) {
      unsigned t = (rr + i) % nthreads;
      if (next[t].size() < next[best].size()) best = t;
    }
    rr = best + 1;
    return best;
  };
  for (const auto& p : ports) {
    for (uint16_t q = 0; q < p.num_queues; ++q) {
      RxSlot s{p.port, q};
      if (!contains(placed, s)) next[least_loaded()].push_back(s);
    }
  }
  for (;;) {
    auto [mn, mx] = std::minmax_element(next.begin(), next.end(),
                                        [](const auto& a, const auto& b) { return a.size() < b.size(); });
    if (mx->size() <= mn->size() + 1) break;
    mn->push_back(mx->back());
    mx->pop_back();
  }
  return next;
}

RxAssignment intersect(const RxAssignment& a, const RxAssignment& b) {
  RxAssignment out(a.size());
  for (size_t t = 0; t < a.size(); ++t)
    for (const auto& s : a[t])
      if (t < b.size() && contains(b[t], s)) out[t].push_back(s);
  return out;
}

Plan build_plan(uint64_t version, const RxAssignment& rx, const std::vector<PlannedPort>& ports,
                bool force_locks) {
  Plan plan;
  plan.version = version;
  const unsigned n = static_cast<unsigned>(rx.size());
  plan.threads.resize(n);
  for (unsigned t = 0; t < n; ++t) {
    ThreadPlan& tp = plan.threads[t];
    tp.rx = rx[t];
    for (const auto& p : ports) {
      if (p.num_queues == 0) continue;
      const uint16_t q = static_cast<uint16_t>(t % p.num_queues);
      // Threads mapping to q: n / nq, plus one for the first n % nq queues.
      const unsigned sharers = n / p.num_queues + (q < n % p.num_queues ? 1u : 0u);
      SpinLock* lock = (force_locks || sharers > 1) ? &(*p.locks)[q].lock : nullptr;
      tp.tx.push_back(TxTarget{p.port, q, lock});
    }
  }
  return plan;
}

}  // namespace vnet::dataplane
