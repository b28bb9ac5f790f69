// Several bridges behind one Datapath (which has one Forwarder): hands each burst to the bridge
// its ingress port belongs to. Ports of different bridges never exchange frames.
//
// Threading as for Bridge: forward() on poll threads (QSBR readers), the rest control path.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "dataplane/forwarder.h"
#include "switch/bridge.h"

namespace vnet::sw {

class BridgeSet final : public dataplane::Forwarder {
 public:
  BridgeSet();
  ~BridgeSet() override;

  // The set does not own bridges; a bridge must outlive its membership. Names are unique.
  Status add_bridge(Bridge* br);
  Status remove_bridge(Bridge* br);  // error while it still has ports
  Bridge* find(std::string_view name) const;
  std::vector<Bridge*> bridges() const;

  // Adds p to br (br must be in the set) and routes p's bursts to it.
  Status add_port(Bridge* br, dataplane::Port* p, const VlanConfig& vlan = VlanConfig::access(1));
  // Removes p from its bridge (flushing its addresses). Remove it from the datapath first.
  Status remove_port(dataplane::Port* p);
  Bridge* bridge_of(const dataplane::Port* p) const;

  size_t expire();  // every bridge's expire()
  uint64_t unknown_ingress() const { return unknown_ingress_.load(std::memory_order_relaxed); }

  void forward(dataplane::Port* ingress, uint16_t queue, dataplane::Packet* pkts, uint16_t n) override;

 private:
  struct Route {
    const dataplane::Port* port;
    Bridge* bridge;
  };
  using Routes = std::vector<Route>;
  void publish_locked(std::unique_ptr<Routes> next);

  mutable std::mutex mu_;
  std::vector<Bridge*> bridges_;
  std::unique_ptr<Routes> routes_owner_;
  std::atomic<const Routes*> routes_;
  std::atomic<uint64_t> unknown_ingress_{0};
};

}  // namespace vnet::sw
