// Forwarders for dataplane tests: they stand in for the bridge.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <utility>

#include "dataplane/forwarder.h"
#include "dataplane/port.h"
#include "dataplane/tx_context.h"

namespace vnet::testing {

// Sends everything received on one port of a pair to the other, unmodified.
class PairForwarder final : public dataplane::Forwarder {
 public:
  PairForwarder(dataplane::Port* a, dataplane::Port* b) : a_(a), b_(b) {}
  void forward(dataplane::Port* in, uint16_t, dataplane::Packet* pkts, uint16_t n) override {
    dataplane::Port* out = in == a_ ? b_.load() : a_.load();
    if (out == nullptr) return;
    dataplane::TxItem items[dataplane::kBurstSize];
    for (uint16_t i = 0; i < n; ++i) items[i] = {&pkts[i], dataplane::VlanEdit::none, 0};
    if (dataplane::TxContext::current().transmit(out, items, n) == 0) unreachable_.fetch_add(n);
  }
  uint64_t unreachable() const { return unreachable_.load(); }

 private:
  std::atomic<dataplane::Port*> a_, b_;
  std::atomic<uint64_t> unreachable_{0};
};

// Sends everything to every port in a fixed list other than the ingress (a tiny flooder), so
// every thread transmits to every port.
class FloodForwarder final : public dataplane::Forwarder {
 public:
  explicit FloodForwarder(std::vector<dataplane::Port*> ports) : ports_(std::move(ports)) {}
  void forward(dataplane::Port* in, uint16_t, dataplane::Packet* pkts, uint16_t n) override {
    dataplane::TxItem items[dataplane::kBurstSize];
    for (uint16_t i = 0; i < n; ++i) items[i] = {&pkts[i], dataplane::VlanEdit::none, 0};
    for (auto* p : ports_)
      if (p != in) dataplane::TxContext::current().transmit(p, items, n);
  }

 private:
  std::vector<dataplane::Port*> ports_;
};

// Counts packets per ingress port.
class CountingForwarder final : public dataplane::Forwarder {
 public:
  void forward(dataplane::Port* in, uint16_t, dataplane::Packet*, uint16_t n) override {
    std::lock_guard l(mu_);
    total_[in] += n;
  }
  uint64_t total(dataplane::Port* p) {
    std::lock_guard l(mu_);
    return total_[p];
  }

 private:
  std::mutex mu_;
  std::map<dataplane::Port*, uint64_t> total_;
};

}  // namespace vnet::testing
