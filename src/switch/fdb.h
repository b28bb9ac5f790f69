// The forwarding database: (VLAN, MAC) -> port slot, learned from source addresses, aged out.
//
// Fixed capacity, allocated once: a port spraying random source MACs cannot grow memory, and
// nothing is ever evicted to make room (new addresses beyond the limits are simply not learned;
// their frames are flooded). Limits: entries per bridge and per port.
//
// Concurrency: lookups are lock-free (poll threads, several at once). Refreshing the age of a
// known entry is one CAS, lock-free. Inserting, moving and deleting take a spinlock held for one
// insert, or for a chunk of 256 slots by the control path (expire, flush), never longer.
// Each slot is two atomics, key and value; a reader accepts a value only if the key still
// matches after reading it and the value is non-zero (slots being filled or emptied read 0).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "base/spinlock.h"
#include "switch/mac.h"

namespace vnet::sw {

constexpr uint16_t kMaxBridgePorts = 64;

enum class LearnResult : uint8_t {
  known,         // already there on this port (age refreshed if due)
  learned,       // new entry
  moved,         // was on another port (or expired), now on this one
  limit_bridge,  // not learned: the bridge holds max_entries
  limit_port,    // not learned: this port holds max_per_port
  table_full,    // not learned: no free slot near the hash (should not happen below the limits)
};

struct FdbEntryView {
  uint16_t vlan;
  Mac mac;
  uint16_t port;        // slot
  uint64_t last_seen_ms;
};

class Fdb {
 public:
  // Capacity is the next power of two >= 2 * max_entries (load factor <= 1/2).
  Fdb(uint32_t max_entries, uint32_t max_per_port);
  Fdb(const Fdb&) = delete;
  Fdb& operator=(const Fdb&) = delete;

  // Hot path. Port slot of (vlan, mac) if present and seen within aging_ms, else -1.
  int lookup(uint16_t vlan, Mac mac, uint64_t now_ms, uint64_t aging_ms) const;
  // Hot path. Records that (vlan, mac) was seen on port at now_ms.
  LearnResult learn(uint16_t vlan, Mac mac, uint16_t port, uint64_t now_ms, uint64_t aging_ms);

  // Control path.
  size_t expire(uint64_t now_ms, uint64_t aging_ms);   // deletes entries older than aging_ms
  size_t flush_port(uint16_t port);
  size_t flush_all();
  void for_each(const std::function<void(const FdbEntryView&)>& fn) const;

  uint32_t size() const { return count_.load(std::memory_order_relaxed); }
  uint32_t port_size(uint16_t port) const { return port_count_[port].load(std::memory_order_relaxed); }
  uint32_t capacity() const { return mask_ + 1; }
  uint32_t max_entries() const { return max_entries_; }
  uint32_t max_per_port() const { return max_per_port_; }

 private:
  static constexpr uint64_t kEmpty = 0;
  static constexpr uint64_t kTombstone = 1;     // real keys have bit 63 set
  static constexpr uint32_t kMaxProbe = 32;     // bounds lookups of absent keys
  static constexpr uint32_t kChunk = 256;       // slots per lock hold in control scans

  struct Slot {
    std::atomic<uint64_t> key{kEmpty};
    std::atomic<uint64_t> val{0};  // (last_seen_ms << 16) | (port + 1); 0 = not valid
  };

  static uint64_t make_key(uint16_t vlan, Mac mac) {
    return (uint64_t{1} << 63) | (uint64_t{vlan & 0xfffu} << 48) | (mac & 0xffffffffffffull);
  }
  static uint64_t make_val(uint16_t port, uint64_t ms) { return (ms << 16) | (uint64_t{port} + 1); }
  static uint16_t val_port(uint64_t v) { return static_cast<uint16_t>((v & 0xffff) - 1); }
  static uint64_t val_ms(uint64_t v) { return v >> 16; }
  uint32_t home(uint64_t key) const;
  // Index of key's slot, or -1; *val gets its value (0 if being changed).
  int64_t find(uint64_t key, uint64_t* val) const;
  // With lock_ held: removes the entry in slot i (value v) if it still holds v.
  bool erase_locked(uint32_t i, uint64_t v);
  template <class Pred>
  size_t erase_if(Pred pred);

  const uint32_t max_entries_;
  const uint32_t max_per_port_;
  uint32_t mask_;
  uint64_t seed_;
  std::unique_ptr<Slot[]> slots_;
  SpinLock lock_;  // writers: insert, move, delete
  std::atomic<uint32_t> count_{0};
  std::atomic<uint32_t> port_count_[kMaxBridgePorts];
};

}  // namespace vnet::sw
