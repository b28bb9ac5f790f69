#include "base/qsbr.h"

#include <algorithm>
#include <thread>

namespace vnet {

Qsbr& Qsbr::global() {
  static Qsbr domain;
  return domain;
}

Qsbr::Reader::Reader(Qsbr& domain) : domain_(domain), seen_(std::make_shared<std::atomic<uint64_t>>()) {
  std::lock_guard lock(domain_.mu_);
  seen_->store(domain_.epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
  domain_.readers_.push_back(seen_);
}

Qsbr::Reader::~Reader() {
  // Offline first, so a concurrent synchronize() stops waiting for us before we take the lock.
  offline();
  std::lock_guard lock(domain_.mu_);
  auto& r = domain_.readers_;
  r.erase(std::remove(r.begin(), r.end(), seen_), r.end());
}

void Qsbr::Reader::quiescent() {
  // seq_cst store: everything this thread read before (old pointers) is ordered before the
  // writer observes the new epoch here.
  seen_->store(domain_.epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
}

void Qsbr::Reader::offline() { seen_->store(kOffline, std::memory_order_seq_cst); }

void Qsbr::Reader::online() {
  // seq_cst store then loads of protected pointers: a writer either sees us online (and waits)
  // or published its new pointer before we read it.
  seen_->store(domain_.epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
}

void Qsbr::synchronize() {
  // The caller published its replacement before this point; seq_cst orders it before the bump.
  const uint64_t target = epoch_.fetch_add(1, std::memory_order_seq_cst) + 1;
  std::vector<std::shared_ptr<std::atomic<uint64_t>>> snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot = readers_;
  }
  for (auto& seen : snapshot) {
    for (unsigned spins = 0;; ++spins) {
      uint64_t v = seen->load(std::memory_order_seq_cst);
      if (v == kOffline || v >= target) break;
      if (spins < 64) std::this_thread::yield();
      else std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

}  // namespace vnet
