#include "switch/bridge.h"

#include <algorithm>

#include "base/cpu.h"
#include "base/log.h"
#include "base/qsbr.h"
#include "dataplane/tx_context.h"

namespace vnet::sw {

using dataplane::Packet;
using dataplane::Port;
using dataplane::TxItem;

std::string_view to_string(DropReason r) {
  switch (r) {
    case DropReason::runt: return "runt";
    case DropReason::bad_tag: return "bad_tag";
    case DropReason::vlan_not_allowed: return "vlan_not_allowed";
    case DropReason::bad_src: return "bad_src";
    case DropReason::local: return "local";
    case DropReason::unreachable: return "unreachable";
    case DropReason::count_: break;
  }
  return "?";
}

std::string_view to_string(LearnFailure f) {
  switch (f) {
    case LearnFailure::limit_bridge: return "limit_bridge";
    case LearnFailure::limit_port: return "limit_port";
    case LearnFailure::table_full: return "table_full";
    case LearnFailure::count_: break;
  }
  return "?";
}

Bridge::Bridge(BridgeOptions options)
    : options_(std::move(options)),
      aging_ms_(options_.aging_ms),
      fdb_(options_.max_entries, std::min(options_.max_entries_per_port, options_.max_entries)) {
  auto t = std::make_unique<PortTable>();
  std::fill(std::begin(t->index_of_slot), std::end(t->index_of_slot), int8_t{-1});
  table_.store(t.get(), std::memory_order_release);
  table_owner_ = std::move(t);
}

Bridge::~Bridge() = default;

uint64_t Bridge::now_ms() const {
  return (options_.clock ? options_.clock() : monotonic_ns()) / 1'000'000;
}

std::unique_ptr<Bridge::PortTable> Bridge::copy_table_locked() const {
  return std::make_unique<PortTable>(*table_owner_);
}

void Bridge::publish_locked(std::unique_ptr<PortTable> next) {
  // Release: poll threads that load the pointer see the table's contents.
  table_.store(next.get(), std::memory_order_release);
  Qsbr::global().synchronize();
  table_owner_ = std::move(next);
}

Status Bridge::add_port(Port* port, const VlanConfig& vlan) {
  if (auto s = vlan.validate(); !s) return Error("port " + port->name() + ": " + s.error().message());
  std::lock_guard lock(mu_);
  const auto& cur = table_owner_->ports;
  for (const auto& p : cur)
    if (p.port == port) return Error("port " + port->name() + " is already on bridge " + options_.name);
  uint16_t slot = 0;
  while (slot < kMaxBridgePorts && table_owner_->index_of_slot[slot] >= 0) ++slot;
  if (slot == kMaxBridgePorts)
    return Error("bridge " + options_.name + " is full (" + std::to_string(kMaxBridgePorts) + " ports)");
  // No thread uses this slot (its last port was flushed after a synchronize): reset it.
  counters_[slot].reset();
  auto next = copy_table_locked();
  next->ports.push_back(TablePort{port, slot, vlan});
  next->index_of_slot[slot] = static_cast<int8_t>(next->ports.size() - 1);
  publish_locked(std::move(next));
  log::info("bridge {}: port {} added ({})", options_.name, port->name(), vlan.describe());
  return {};
}

Status Bridge::remove_port(Port* port) {
  std::lock_guard lock(mu_);
  auto next = copy_table_locked();
  auto it = std::find_if(next->ports.begin(), next->ports.end(), [&](const TablePort& p) { return p.port == port; });
  if (it == next->ports.end()) return Error("port " + port->name() + " is not on bridge " + options_.name);
  const uint16_t slot = it->slot;
  next->ports.erase(it);
  std::fill(std::begin(next->index_of_slot), std::end(next->index_of_slot), int8_t{-1});
  for (size_t i = 0; i < next->ports.size(); ++i)
    next->index_of_slot[next->ports[i].slot] = static_cast<int8_t>(i);
  publish_locked(std::move(next));
  // After the synchronize no thread can learn on this slot any more: flush it for good.
  const size_t flushed = fdb_.flush_port(slot);
  log::info("bridge {}: port {} removed ({} addresses flushed)", options_.name, port->name(), flushed);
  return {};
}

Status Bridge::set_vlan(Port* port, const VlanConfig& vlan) {
  if (auto s = vlan.validate(); !s) return Error("port " + port->name() + ": " + s.error().message());
  std::lock_guard lock(mu_);
  auto next = copy_table_locked();
  for (auto& p : next->ports) {
    if (p.port != port) continue;
    p.vlan = vlan;
    const uint16_t slot = p.slot;
    publish_locked(std::move(next));
    fdb_.flush_port(slot);
    return {};
  }
  return Error("port " + port->name() + " is not on bridge " + options_.name);
}

size_t Bridge::expire() { return fdb_.expire(now_ms(), aging_ms()); }
size_t Bridge::flush() { return fdb_.flush_all(); }

std::vector<FdbEntry> Bridge::fdb() const {
  std::lock_guard lock(mu_);
  const uint64_t now = now_ms();
  const uint64_t aging = aging_ms();
  std::vector<FdbEntry> out;
  fdb_.for_each([&](const FdbEntryView& e) {
    const uint64_t age = now > e.last_seen_ms ? now - e.last_seen_ms : 0;
    if (age > aging) return;
    const int idx = e.port < kMaxBridgePorts ? table_owner_->index_of_slot[e.port] : -1;
    if (idx < 0) return;
    out.push_back(FdbEntry{e.vlan, e.mac, table_owner_->ports[idx].port->name(), age});
  });
  std::sort(out.begin(), out.end(), [](const FdbEntry& a, const FdbEntry& b) {
    return a.vlan != b.vlan ? a.vlan < b.vlan : a.mac < b.mac;
  });
  return out;
}

std::vector<BridgePortInfo> Bridge::ports() const {
  std::lock_guard lock(mu_);
  std::vector<BridgePortInfo> out;
  for (const auto& p : table_owner_->ports)
    out.push_back(BridgePortInfo{p.port->name(), p.vlan, fdb_.port_size(p.slot), counters_[p.slot].snapshot()});
  return out;
}

BridgeCounters Bridge::counters() const {
  return BridgeCounters{fdb_.size(), fdb_.capacity(), unknown_ingress_.load(std::memory_order_relaxed)};
}

void Bridge::forward(Port* ingress, uint16_t queue, Packet* pkts, uint16_t n) {
  // Larger batches than a burst are split so that the per-destination arrays stay bounded.
  while (n > dataplane::kBurstSize) {
    forward(ingress, queue, pkts, dataplane::kBurstSize);
    pkts += dataplane::kBurstSize;
    n -= dataplane::kBurstSize;
  }
  // Acquire: pairs with publish_locked(); valid until this thread's next quiescent point.
  const PortTable* table = table_.load(std::memory_order_acquire);
  const auto& ports = table->ports;
  int in = -1;
  for (size_t i = 0; i < ports.size(); ++i)
    if (ports[i].port == ingress) in = static_cast<int>(i);
  if (in < 0) {
    unknown_ingress_.fetch_add(n, std::memory_order_relaxed);
    return;
  }
  const TablePort& ip = ports[in];
  const uint64_t now = now_ms();
  const uint64_t aging = aging_ms();
  const size_t nports = ports.size();

  // Per-destination batches; one transmit per destination per burst.
  TxItem items[kMaxBridgePorts][dataplane::kBurstSize];
  uint16_t count[kMaxBridgePorts] = {};
  uint64_t drops[kDropReasons] = {};
  uint64_t learn_fail[kLearnFailures] = {};
  uint64_t rx_bytes = 0, flooded = 0, learned = 0, moved = 0;
  uint64_t last_src = ~0ull, last_dst = ~0ull;  // keys never produced by a real frame
  int last_out = -1;

  for (uint16_t k = 0; k < n; ++k) {
    Packet& p = pkts[k];
    rx_bytes += p.len;
    switch (classify_ingress(ip.vlan, p)) {
      case IngressDrop::none: break;
      case IngressDrop::runt: ++drops[size_t(DropReason::runt)]; continue;
      case IngressDrop::bad_tag: ++drops[size_t(DropReason::bad_tag)]; continue;
      case IngressDrop::vlan_not_allowed: ++drops[size_t(DropReason::vlan_not_allowed)]; continue;
    }
    const Mac dst = mac_from_bytes(p.eth);
    const Mac src = mac_from_bytes(p.eth + 6);
    if (mac_is_multicast(src) || src == 0) {
      ++drops[size_t(DropReason::bad_src)];
      continue;
    }
    // Bursts usually come from one sender to one peer: learn and look up once per run of
    // identical (VLAN, MAC) rather than once per packet.
    const uint64_t src_key = uint64_t{p.vlan} << 48 | src;
    if (src_key != last_src) {
      last_src = src_key;
      switch (fdb_.learn(p.vlan, src, ip.slot, now, aging)) {
        case LearnResult::known: break;
        case LearnResult::learned: ++learned; break;
        case LearnResult::moved: ++moved; break;
        case LearnResult::limit_bridge: ++learn_fail[size_t(LearnFailure::limit_bridge)]; break;
        case LearnResult::limit_port: ++learn_fail[size_t(LearnFailure::limit_port)]; break;
        case LearnResult::table_full: ++learn_fail[size_t(LearnFailure::table_full)]; break;
      }
    }
    if (!mac_is_multicast(dst)) {
      const uint64_t dst_key = uint64_t{p.vlan} << 48 | dst;
      if (dst_key != last_dst) {
        last_dst = dst_key;
        const int slot = fdb_.lookup(p.vlan, dst, now, aging);
        last_out = slot >= 0 && slot < kMaxBridgePorts ? table->index_of_slot[slot] : -1;
      }
      const int out = last_out;
      if (out == in) {
        ++drops[size_t(DropReason::local)];
        continue;
      }
      if (out >= 0 && ports[out].vlan.carries(p.vlan)) {
        items[out][count[out]++] = egress_item(ports[out].vlan, p);
        continue;
      }
    }
    ++flooded;
    for (size_t j = 0; j < nports; ++j) {
      if (static_cast<int>(j) == in || !ports[j].vlan.carries(p.vlan)) continue;
      items[j][count[j]++] = egress_item(ports[j].vlan, p);
    }
  }

  for (size_t j = 0; j < nports; ++j) {
    if (count[j] == 0) continue;
    AtomicPortCounters& oc = counters_[ports[j].slot];
    const uint16_t sent = dataplane::TxContext::current().transmit(ports[j].port, items[j], count[j]);
    if (sent == 0) {
      AtomicPortCounters::add(oc.drops[size_t(DropReason::unreachable)], count[j]);
      continue;
    }
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < count[j]; ++i) {
      const TxItem& t = items[j][i];
      bytes += t.pkt->len + (t.edit == dataplane::VlanEdit::push ? 4 : 0) - (t.edit == dataplane::VlanEdit::pop ? 4 : 0);
    }
    AtomicPortCounters::add(oc.tx_packets, count[j]);
    AtomicPortCounters::add(oc.tx_bytes, bytes);
  }

  AtomicPortCounters& ic = counters_[ip.slot];
  AtomicPortCounters::add(ic.rx_packets, n);
  AtomicPortCounters::add(ic.rx_bytes, rx_bytes);
  AtomicPortCounters::add(ic.flooded, flooded);
  AtomicPortCounters::add(ic.learned, learned);
  AtomicPortCounters::add(ic.moved, moved);
  for (size_t i = 0; i < kDropReasons; ++i) AtomicPortCounters::add(ic.drops[i], drops[i]);
  for (size_t i = 0; i < kLearnFailures; ++i) AtomicPortCounters::add(ic.learn_failures[i], learn_fail[i]);
}

}  // namespace vnet::sw
