#include "virtio/split_ring_driver.h"

#include <atomic>
#include <cstring>

#include "virtio/ring_access.h"

namespace vnet::virtio {
SplitRingDriver::SplitRingDriver(const DriverRingConfig& cfg)
    : cfg_(cfg), next_(cfg.size), heads_(cfg.size), num_free_(cfg.size) {
  for (uint16_t i = 0; i < cfg_.size; ++i) next_[i] = static_cast<uint16_t>(i + 1);
  // Start from what is in memory (zeroed for a fresh ring).
  avail_idx_ = load_u16(cfg_.avail + kRingIdxOff, std::memory_order_relaxed);
  last_used_ = avail_idx_;
}

AddStatus SplitRingDriver::add(std::span<const Segment> out, std::span<const Segment> in, void* token) {
  const size_t total = out.size() + in.size();
  if (total == 0 || token == nullptr || broken()) return AddStatus::bad_args;
  const bool indirect = cfg_.indirect && total > 1 && total <= cfg_.indirect_max;
  const size_t needed = indirect ? 1 : total;
  if (needed > num_free_) return AddStatus::no_space;

  const uint16_t head = free_head_;
  uint32_t in_bytes = 0;
  for (const auto& s : in) in_bytes += s.len;

  auto fill = [&](VringDesc* table, auto index_of, auto next_of) {
    size_t k = 0;
    uint16_t idx = index_of(0);
    for (size_t j = 0; j < total; ++j, ++k) {
      const bool writable = j >= out.size();
      const Segment& s = writable ? in[j - out.size()] : out[j];
      VringDesc& d = table[idx];
      d.addr = s.addr;
      d.len = s.len;
      uint16_t nxt = next_of(idx, j);
      d.flags = static_cast<uint16_t>((writable ? kDescFWrite : 0) | (j + 1 < total ? kDescFNext : 0));
      d.next = j + 1 < total ? nxt : 0;
      idx = nxt;
    }
    return idx;  // first index after the chain
  };

  if (indirect) {
    auto* table = reinterpret_cast<VringDesc*>(cfg_.indirect + static_cast<size_t>(head) * cfg_.indirect_max * sizeof(VringDesc));
    fill(table, [](size_t) { return uint16_t{0}; }, [](uint16_t i, size_t) { return static_cast<uint16_t>(i + 1); });
    VringDesc& d = ring_desc()[head];
    d.addr = cfg_.indirect_gpa + static_cast<uint64_t>(head) * cfg_.indirect_max * sizeof(VringDesc);
    d.len = static_cast<uint32_t>(total * sizeof(VringDesc));
    d.flags = kDescFIndirect;
    d.next = 0;
    free_head_ = next_[head];
  } else {
    free_head_ = fill(ring_desc(), [&](size_t) { return head; }, [&](uint16_t i, size_t) { return next_[i]; });
  }
  num_free_ = static_cast<uint16_t>(num_free_ - needed);
  heads_[head] = HeadInfo{token, static_cast<uint16_t>(needed), in_bytes};

  avail_ring()[avail_idx_ & (cfg_.size - 1)] = head;
  ++avail_idx_;
  ++num_added_;
  // Release: descriptors and the avail entry are visible before the new idx.
  store_u16(cfg_.avail + kRingIdxOff, avail_idx_, std::memory_order_release);
  return AddStatus::ok;
}

bool SplitRingDriver::kick_prepare() {
  // Full fence: our avail->idx store is ordered before reading the device's suppression state.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint16_t new_idx = avail_idx_;
  const uint16_t old_idx = static_cast<uint16_t>(new_idx - num_added_);
  num_added_ = 0;
  if (cfg_.event_idx) {
    const uint16_t event = load_u16(cfg_.used + avail_event_off(cfg_.size), std::memory_order_relaxed);
    return vring_need_event(event, new_idx, old_idx);
  }
  return !(load_u16(cfg_.used + kRingFlagsOff, std::memory_order_relaxed) & kUsedFNoNotify);
}

uint16_t SplitRingDriver::used_idx_acquire() const {
  // Acquire: used entries written before the device published idx are visible.
  return load_u16(cfg_.used + kRingIdxOff, std::memory_order_acquire);
}

std::optional<UsedBuffer> SplitRingDriver::get_buf() {
  if (broken() || last_used_ == used_idx_acquire()) return std::nullopt;
  VringUsedElem e;
  std::memcpy(&e, cfg_.used + kUsedRingOff + (last_used_ & (cfg_.size - 1)) * sizeof(VringUsedElem), sizeof(e));
  if (e.id >= cfg_.size || heads_[e.id].token == nullptr) {
    error_ = RingError::used_id_bad;
    return std::nullopt;
  }
  HeadInfo& h = heads_[e.id];
  UsedBuffer r{h.token, e.len, false};
  if (e.len > h.in_bytes) {
    r.len = h.in_bytes;
    r.len_error = true;
    ++len_errors_;
  }
  // Detach: walk our private links (never the shared table) back onto the free list.
  uint16_t last = static_cast<uint16_t>(e.id);
  for (uint16_t k = 1; k < h.ndesc; ++k) last = next_[last];
  next_[last] = free_head_;
  free_head_ = static_cast<uint16_t>(e.id);
  num_free_ = static_cast<uint16_t>(num_free_ + h.ndesc);
  h = HeadInfo{};
  ++last_used_;
  // While callbacks are wanted, tell the device the next used entry we care about.
  if (!(avail_flags_ & kAvailFNoInterrupt) && cfg_.event_idx) write_used_event(last_used_);
  return r;
}

void SplitRingDriver::write_avail_flags() {
  store_u16(cfg_.avail + kRingFlagsOff, avail_flags_, std::memory_order_relaxed);
}

void SplitRingDriver::write_used_event(uint16_t v) {
  store_u16(cfg_.avail + used_event_off(cfg_.size), v, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void SplitRingDriver::disable_cb() {
  if (avail_flags_ & kAvailFNoInterrupt) return;
  avail_flags_ |= kAvailFNoInterrupt;
  // With EVENT_IDX the device ignores the flag; used_event simply stops advancing.
  if (!cfg_.event_idx) write_avail_flags();
}

uint16_t SplitRingDriver::enable_cb_prepare() {
  if (avail_flags_ & kAvailFNoInterrupt) {
    avail_flags_ &= static_cast<uint16_t>(~kAvailFNoInterrupt);
    if (!cfg_.event_idx) write_avail_flags();
  }
  if (cfg_.event_idx) store_u16(cfg_.avail + used_event_off(cfg_.size), last_used_, std::memory_order_relaxed);
  return last_used_;
}

bool SplitRingDriver::poll(uint16_t last_used) {
  // Full fence: used_event / flags store above is visible before we re-read used->idx.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return last_used != used_idx_acquire();
}

bool SplitRingDriver::enable_cb_delayed() {
  if (avail_flags_ & kAvailFNoInterrupt) {
    avail_flags_ &= static_cast<uint16_t>(~kAvailFNoInterrupt);
    if (!cfg_.event_idx) write_avail_flags();
  }
  const uint16_t bufs = static_cast<uint16_t>(static_cast<uint16_t>(avail_idx_ - last_used_) * 3 / 4);
  if (cfg_.event_idx) write_used_event(static_cast<uint16_t>(last_used_ + bufs));
  else std::atomic_thread_fence(std::memory_order_seq_cst);
  return static_cast<uint16_t>(used_idx_acquire() - last_used_) <= bufs;
}

}  // namespace vnet::virtio
