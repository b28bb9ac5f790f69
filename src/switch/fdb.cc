#include "switch/fdb.h"

#include <mutex>
#include <random>

namespace vnet::sw {
namespace {

// splitmix64 finalizer: every key bit affects every hash bit.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

Fdb::Fdb(uint32_t max_entries, uint32_t max_per_port)
    : max_entries_(max_entries), max_per_port_(max_per_port) {
  uint32_t cap = 64;
  while (cap < 2ull * max_entries && cap < (1u << 30)) cap <<= 1;
  mask_ = cap - 1;
  // A per-table random seed: a guest cannot pick MACs that collide in every bridge.
  std::random_device rd;
  seed_ = (uint64_t{rd()} << 32) | rd();
  slots_ = std::make_unique<Slot[]>(cap);
  for (auto& c : port_count_) c.store(0, std::memory_order_relaxed);
}

uint32_t Fdb::home(uint64_t key) const { return static_cast<uint32_t>(mix(key ^ seed_)) & mask_; }

int64_t Fdb::find(uint64_t key, uint64_t* val) const {
  uint32_t i = home(key);
  for (uint32_t probe = 0; probe < kMaxProbe; ++probe, i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    // Acquire on key then value then key again: the value belongs to the key if the key is
    // unchanged after reading it (writers zero the value before changing the key).
    const uint64_t k = s.key.load(std::memory_order_acquire);
    if (k == kEmpty) return -1;
    if (k != key) continue;
    const uint64_t v = s.val.load(std::memory_order_acquire);
    if (s.key.load(std::memory_order_relaxed) != key) return -1;
    *val = v;
    return i;
  }
  return -1;
}

int Fdb::lookup(uint16_t vlan, Mac mac, uint64_t now_ms, uint64_t aging_ms) const {
  uint64_t v = 0;
  if (find(make_key(vlan, mac), &v) < 0 || v == 0) return -1;
  if (now_ms > val_ms(v) && now_ms - val_ms(v) > aging_ms) return -1;
  return val_port(v);
}

LearnResult Fdb::learn(uint16_t vlan, Mac mac, uint16_t port, uint64_t now_ms, uint64_t aging_ms) {
  const uint64_t key = make_key(vlan, mac);
  const uint64_t want = make_val(port, now_ms);
  uint64_t v = 0;
  int64_t at = find(key, &v);
  const bool expired = v != 0 && now_ms > val_ms(v) && now_ms - val_ms(v) > aging_ms;
  if (at >= 0 && v != 0 && val_port(v) == port && !expired) {
    // Refresh at most every 1/16 of the aging time (and at least once a second) so that a busy
    // address does not write its slot per packet.
    const uint64_t step = std::min<uint64_t>(1000, std::max<uint64_t>(1, aging_ms / 16));
    if (now_ms >= val_ms(v) + step)
      slots_[at].val.compare_exchange_strong(v, want, std::memory_order_release, std::memory_order_relaxed);
    return LearnResult::known;
  }
  // Cheap checks before the lock: a spraying port at its limit never contends.
  if (at < 0) {
    if (port_count_[port].load(std::memory_order_relaxed) >= max_per_port_) return LearnResult::limit_port;
    if (count_.load(std::memory_order_relaxed) >= max_entries_) return LearnResult::limit_bridge;
  }

  std::lock_guard guard(lock_);
  // Re-find under the lock: another thread may have inserted or moved it meanwhile.
  int64_t free_slot = -1;
  uint32_t i = home(key);
  for (uint32_t probe = 0; probe < kMaxProbe; ++probe, i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    const uint64_t k = s.key.load(std::memory_order_relaxed);
    if (k == key) {
      const uint64_t cur = s.val.load(std::memory_order_relaxed);
      const uint16_t old_port = val_port(cur);
      if (old_port == port) {
        s.val.store(want, std::memory_order_release);
        return LearnResult::known;
      }
      if (port_count_[port].load(std::memory_order_relaxed) >= max_per_port_) return LearnResult::limit_port;
      // A move is one store: readers see the old port or the new one.
      s.val.store(want, std::memory_order_release);
      port_count_[old_port].fetch_sub(1, std::memory_order_relaxed);
      port_count_[port].fetch_add(1, std::memory_order_relaxed);
      return LearnResult::moved;
    }
    if (k == kTombstone && free_slot < 0) free_slot = i;
    if (k == kEmpty) {
      if (free_slot < 0) free_slot = i;
      break;
    }
  }
  if (port_count_[port].load(std::memory_order_relaxed) >= max_per_port_) return LearnResult::limit_port;
  if (count_.load(std::memory_order_relaxed) >= max_entries_) return LearnResult::limit_bridge;
  if (free_slot < 0) return LearnResult::table_full;
  Slot& s = slots_[free_slot];
  // The value is 0 while the slot is free; publish the key first, then the value (release):
  // a reader that sees the value sees the key.
  s.key.store(key, std::memory_order_release);
  s.val.store(want, std::memory_order_release);
  count_.fetch_add(1, std::memory_order_relaxed);
  port_count_[port].fetch_add(1, std::memory_order_relaxed);
  return LearnResult::learned;
}

bool Fdb::erase_locked(uint32_t i, uint64_t v) {
  Slot& s = slots_[i];
  // CAS so that a concurrent lock-free refresh (which changes v) is not lost silently; the entry
  // then survives until the next expire.
  if (!s.val.compare_exchange_strong(v, 0, std::memory_order_release, std::memory_order_relaxed)) return false;
  s.key.store(kTombstone, std::memory_order_release);
  count_.fetch_sub(1, std::memory_order_relaxed);
  port_count_[val_port(v)].fetch_sub(1, std::memory_order_relaxed);
  return true;
}

template <class Pred>
size_t Fdb::erase_if(Pred pred) {
  size_t erased = 0;
  for (uint32_t base = 0; base <= mask_; base += kChunk) {
    std::lock_guard guard(lock_);
    for (uint32_t i = base; i < base + kChunk && i <= mask_; ++i) {
      const uint64_t k = slots_[i].key.load(std::memory_order_relaxed);
      if (k == kEmpty || k == kTombstone) continue;
      const uint64_t v = slots_[i].val.load(std::memory_order_relaxed);
      if (v != 0 && pred(v) && erase_locked(i, v)) ++erased;
    }
  }
  return erased;
}

size_t Fdb::expire(uint64_t now_ms, uint64_t aging_ms) {
  return erase_if([&](uint64_t v) { return now_ms > val_ms(v) && now_ms - val_ms(v) > aging_ms; });
}

size_t Fdb::flush_port(uint16_t port) {
  return erase_if([&](uint64_t v) { return val_port(v) == port; });
}

size_t Fdb::flush_all() {
  return erase_if([](uint64_t) { return true; });
}

void Fdb::for_each(const std::function<void(const FdbEntryView&)>& fn) const {
  for (uint32_t i = 0; i <= mask_; ++i) {
    const uint64_t k = slots_[i].key.load(std::memory_order_acquire);
    if (k == kEmpty || k == kTombstone) continue;
    const uint64_t v = slots_[i].val.load(std::memory_order_acquire);
    if (v == 0 || slots_[i].key.load(std::memory_order_relaxed) != k) continue;
    fn(FdbEntryView{static_cast<uint16_t>((k >> 48) & 0xfff), k & 0xffffffffffffull, val_port(v), val_ms(v)});
  }
}

}  // namespace vnet::sw
