#include "switch/bridge_set.h"

#include <algorithm>

#include "base/qsbr.h"

namespace vnet::sw {

BridgeSet::BridgeSet() : routes_owner_(std::make_unique<Routes>()), routes_(routes_owner_.get()) {}
BridgeSet::~BridgeSet() = default;

void BridgeSet::publish_locked(std::unique_ptr<Routes> next) {
  routes_.store(next.get(), std::memory_order_release);
  Qsbr::global().synchronize();
  routes_owner_ = std::move(next);
}

Status BridgeSet::add_bridge(Bridge* br) {
  std::lock_guard lock(mu_);
  for (Bridge* b : bridges_)
    if (b == br || b->name() == br->name()) return Error("bridge " + br->name() + " already exists");
  bridges_.push_back(br);
  return {};
}

Status BridgeSet::remove_bridge(Bridge* br) {
  std::lock_guard lock(mu_);
  auto it = std::find(bridges_.begin(), bridges_.end(), br);
  if (it == bridges_.end()) return Error("no bridge " + br->name());
  for (const Route& r : *routes_owner_)
    if (r.bridge == br) return Error("bridge " + br->name() + " still has ports");
  bridges_.erase(it);
  return {};
}

Bridge* BridgeSet::find(std::string_view name) const {
  std::lock_guard lock(mu_);
  for (Bridge* b : bridges_)
    if (b->name() == name) return b;
  return nullptr;
}

std::vector<Bridge*> BridgeSet::bridges() const {
  std::lock_guard lock(mu_);
  return bridges_;
}

Status BridgeSet::add_port(Bridge* br, dataplane::Port* p, const VlanConfig& vlan) {
  std::lock_guard lock(mu_);
  if (std::find(bridges_.begin(), bridges_.end(), br) == bridges_.end())
    return Error("no bridge " + br->name());
  for (const Route& r : *routes_owner_)
    if (r.port == p) return Error("port " + p->name() + " is already on bridge " + r.bridge->name());
  if (auto s = br->add_port(p, vlan); !s) return s;
  auto next = std::make_unique<Routes>(*routes_owner_);
  next->push_back(Route{p, br});
  publish_locked(std::move(next));
  return {};
}

Status BridgeSet::remove_port(dataplane::Port* p) {
  std::lock_guard lock(mu_);
  auto next = std::make_unique<Routes>(*routes_owner_);
  auto it = std::find_if(next->begin(), next->end(), [p](const Route& r) { return r.port == p; });
  if (it == next->end()) return Error("port " + p->name() + " is on no bridge");
  Bridge* br = it->bridge;
  next->erase(it);
  publish_locked(std::move(next));
  return br->remove_port(p);
}

Bridge* BridgeSet::bridge_of(const dataplane::Port* p) const {
  std::lock_guard lock(mu_);
  for (const Route& r : *routes_owner_)
    if (r.port == p) return r.bridge;
  return nullptr;
}

size_t BridgeSet::expire() {
  size_t n = 0;
  for (Bridge* b : bridges()) n += b->expire();
  return n;
}

void BridgeSet::forward(dataplane::Port* ingress, uint16_t queue, dataplane::Packet* pkts, uint16_t n) {
  // Acquire: pairs with publish_locked(); valid until this thread's next quiescent point.
  const Routes* routes = routes_.load(std::memory_order_acquire);
  for (const Route& r : *routes) {
    if (r.port == ingress) {
      r.bridge->forward(ingress, queue, pkts, n);
      return;
    }
  }
  unknown_ingress_.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace vnet::sw
