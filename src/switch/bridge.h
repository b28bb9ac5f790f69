// An L2 learning bridge (the Open vSwitch / Linux bridge role): the Forwarder the poll threads
// call with every burst. Learns (VLAN, source MAC) -> port, forwards known unicast to one port,
// floods broadcast, multicast and unknown unicast to every other port of the VLAN (never back to
// the ingress port), and applies 802.1Q edits per destination (access / trunk ports).
//
// Threading: forward() runs on poll threads, concurrently, as a QSBR reader of Qsbr::global()
// (the port table is RCU-published). Everything else is control path: add_port/remove_port/
// set_vlan wait for poll threads to pass a quiescent point, so they must not be called from a
// poll thread. Transmit goes through dataplane::TxContext::current().
//
// Wiring (vnetd): Bridge br(opts); auto dp = Datapath::create(br, dp_opts);
//   add:    br.add_port(p, vlan); dp->add_port(p);
//   remove: dp->remove_port(p); br.remove_port(p); then destroy p.
//   timer:  br.expire() about once a second (entries older than the aging time also stop
//           matching lookups on their own; expire() frees their slots for new addresses).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/error.h"
#include "dataplane/forwarder.h"
#include "dataplane/port.h"
#include "switch/bridge_counters.h"
#include "switch/fdb.h"
#include "switch/mac.h"
#include "switch/vlan.h"

namespace vnet::sw {

struct BridgeOptions {
  std::string name = "br0";
  uint32_t max_entries = 8192;         // learned addresses per bridge
  uint32_t max_entries_per_port = 1024;
  uint64_t aging_ms = 300'000;
  // Monotonic time in nanoseconds; injectable for tests.
  std::function<uint64_t()> clock;
};

struct FdbEntry {
  uint16_t vlan;
  Mac mac;
  std::string port;
  uint64_t age_ms;
};

struct BridgePortInfo {
  std::string name;
  VlanConfig vlan;
  uint32_t fdb_entries;
  PortCounters counters;
};

struct BridgeCounters {
  uint32_t fdb_entries;
  uint32_t fdb_capacity;
  uint64_t unknown_ingress;  // packets from a port not in this bridge (dropped)
};

class Bridge final : public dataplane::Forwarder {
 public:
  explicit Bridge(BridgeOptions options = {});
  ~Bridge() override;
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  const std::string& name() const { return options_.name; }

  Status add_port(dataplane::Port* port, const VlanConfig& vlan = VlanConfig::access(1));
  // Removes the port and flushes its addresses. Remove it from the datapath first.
  Status remove_port(dataplane::Port* port);
  Status set_vlan(dataplane::Port* port, const VlanConfig& vlan);  // flushes its addresses
  void set_aging_ms(uint64_t ms) { aging_ms_.store(ms, std::memory_order_relaxed); }
  uint64_t aging_ms() const { return aging_ms_.load(std::memory_order_relaxed); }

  size_t expire();  // deletes entries older than the aging time; returns how many
  size_t flush();   // deletes every learned entry

  std::vector<FdbEntry> fdb() const;               // for `vnetctl fdb`
  std::vector<BridgePortInfo> ports() const;       // for `vnetctl stats` / show
  BridgeCounters counters() const;

  void forward(dataplane::Port* ingress, uint16_t queue, dataplane::Packet* pkts, uint16_t n) override;

 private:
  struct TablePort {
    dataplane::Port* port;
    uint16_t slot;  // index into counters_ and FDB port numbers
    VlanConfig vlan;
  };
  // Immutable once published.
  struct PortTable {
    std::vector<TablePort> ports;
    int8_t index_of_slot[kMaxBridgePorts];  // -1 if the slot is not in this table
  };

  uint64_t now_ms() const;
  // With mu_ held: publishes `next`, waits for poll threads, frees the old table.
  void publish_locked(std::unique_ptr<PortTable> next);
  std::unique_ptr<PortTable> copy_table_locked() const;

  BridgeOptions options_;
  std::atomic<uint64_t> aging_ms_;
  Fdb fdb_;
  std::atomic<const PortTable*> table_;
  std::unique_ptr<PortTable> table_owner_;
  mutable std::mutex mu_;  // control path
  AtomicPortCounters counters_[kMaxBridgePorts];
  std::atomic<uint64_t> unknown_ingress_{0};
};

}  // namespace vnet::sw
