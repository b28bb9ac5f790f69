// Per bridge-port counters. Several poll threads add to them (once per burst, relaxed
// fetch_add); the control path reads them at any time.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace vnet::sw {

enum class DropReason : uint8_t {
  runt,              // shorter than an Ethernet header
  bad_tag,           // tag not acceptable on this port (see vlan.h)
  vlan_not_allowed,  // VLAN not carried by the ingress port
  bad_src,           // multicast or all-zero source MAC
  local,             // destination learned on the ingress port itself (never sent back)
  unreachable,       // egress: destination port could not take the frame (being removed, no queues)
  count_
};
constexpr size_t kDropReasons = static_cast<size_t>(DropReason::count_);
std::string_view to_string(DropReason r);

enum class LearnFailure : uint8_t { limit_bridge, limit_port, table_full, count_ };
constexpr size_t kLearnFailures = static_cast<size_t>(LearnFailure::count_);
std::string_view to_string(LearnFailure f);

struct PortCounters {
  uint64_t rx_packets = 0, rx_bytes = 0;
  uint64_t tx_packets = 0, tx_bytes = 0;
  uint64_t flooded = 0;  // frames received here that were flooded
  std::array<uint64_t, kDropReasons> drops{};
  std::array<uint64_t, kLearnFailures> learn_failures{};
  uint64_t learned = 0, moved = 0;  // addresses learned / moved to this port
};

class alignas(64) AtomicPortCounters {
 public:
  void reset() {
    for (auto* a : {&rx_packets, &rx_bytes, &tx_packets, &tx_bytes, &flooded, &learned, &moved})
      a->store(0, std::memory_order_relaxed);
    for (auto& a : drops) a.store(0, std::memory_order_relaxed);
    for (auto& a : learn_failures) a.store(0, std::memory_order_relaxed);
  }
  static void add(std::atomic<uint64_t>& a, uint64_t v) {
    if (v) a.fetch_add(v, std::memory_order_relaxed);
  }
  PortCounters snapshot() const {
    PortCounters c;
    c.rx_packets = rx_packets.load(std::memory_order_relaxed);
    c.rx_bytes = rx_bytes.load(std::memory_order_relaxed);
    c.tx_packets = tx_packets.load(std::memory_order_relaxed);
    c.tx_bytes = tx_bytes.load(std::memory_order_relaxed);
    c.flooded = flooded.load(std::memory_order_relaxed);
    c.learned = learned.load(std::memory_order_relaxed);
    c.moved = moved.load(std::memory_order_relaxed);
    for (size_t i = 0; i < kDropReasons; ++i) c.drops[i] = drops[i].load(std::memory_order_relaxed);
    for (size_t i = 0; i < kLearnFailures; ++i)
      c.learn_failures[i] = learn_failures[i].load(std::memory_order_relaxed);
    return c;
  }

  std::atomic<uint64_t> rx_packets{0}, rx_bytes{0}, tx_packets{0}, tx_bytes{0}, flooded{0};
  std::atomic<uint64_t> learned{0}, moved{0};
  std::array<std::atomic<uint64_t>, kDropReasons> drops{};
  std::array<std::atomic<uint64_t>, kLearnFailures> learn_failures{};
};

}  // namespace vnet::sw
