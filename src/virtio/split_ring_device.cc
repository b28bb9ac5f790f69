#include "virtio/split_ring_device.h"

#include <atomic>
#include <cstring>

#include "virtio/ring_access.h"

namespace vnet::virtio {
namespace {

// Copies one descriptor out of guest memory so that the guest cannot change it between our
// check and our use (double fetch).
VringDesc read_desc(const uint8_t* table, uint32_t i) {
  VringDesc d;
  std::memcpy(&d, table + static_cast<size_t>(i) * sizeof(VringDesc), sizeof(d));
  return d;
}

}  // namespace

void SplitRingDevice::configure(const DeviceRingConfig& cfg) {
  cfg_ = cfg;
  error_ = RingError::none;
  cached_avail_ = last_avail_;
  signalled_used_valid_ = false;
  notify_enabled_ = true;
}

void SplitRingDevice::relocate(uint8_t* desc, uint8_t* avail, uint8_t* used) {
  cfg_.desc = desc;
  cfg_.avail = avail;
  cfg_.used = used;
}

void SplitRingDevice::sync_used_idx_from_ring() {
  used_idx_ = load_u16(cfg_.used + kRingIdxOff, std::memory_order_acquire);
  published_used_ = used_idx_;
  signalled_used_valid_ = false;
}

uint16_t SplitRingDevice::load_avail_idx() const {
  // Acquire: the entries and descriptors the driver wrote before bumping idx are visible.
  return load_u16(cfg_.avail + kRingIdxOff, std::memory_order_acquire);
}

uint16_t SplitRingDevice::pending() {
  if (broken()) return 0;
  uint16_t n = static_cast<uint16_t>(cached_avail_ - last_avail_);
  if (n == 0) {
    cached_avail_ = load_avail_idx();
    n = static_cast<uint16_t>(cached_avail_ - last_avail_);
  }
  if (n > cfg_.size) {
    error_ = RingError::avail_idx_jump;
    return 0;
  }
  return n;
}

PopStatus SplitRingDevice::pop(const MemoryTable& mem, Chain& out) {
  if (broken()) return PopStatus::broken;
  if (cached_avail_ == last_avail_) {
    cached_avail_ = load_avail_idx();
    if (cached_avail_ == last_avail_) return PopStatus::empty;
  }
  if (static_cast<uint16_t>(cached_avail_ - last_avail_) > cfg_.size) return fail(RingError::avail_idx_jump);

  const uint16_t head = avail_ring()[last_avail_ & (cfg_.size - 1)];
  if (head >= cfg_.size) return fail(RingError::head_out_of_range);

  out.head = head;
  out.nreadable = out.nwritable = 0;
  out.readable_bytes = out.writable_bytes = 0;
  size_t nspans = 0;
  uint64_t total = 0;

  const uint8_t* table = cfg_.desc;
  uint32_t table_len = cfg_.size;  // entries in the table being walked
  uint32_t seen = 0;               // descriptors walked in the current table (loop guard)
  bool in_indirect = false;
  uint32_t i = head;

  for (;;) {
    if (i >= table_len) return fail(RingError::next_out_of_range);
    if (++seen > table_len) return fail(RingError::chain_loop);
    const VringDesc d = read_desc(table, i);

    if (d.flags & kDescFIndirect) {
      if (in_indirect) return fail(RingError::nested_indirect);
      if (d.flags & kDescFNext) return fail(RingError::indirect_with_next);
      if (d.len == 0 || d.len % sizeof(VringDesc) != 0) return fail(RingError::indirect_bad_length);
      // The table must be one host span: it is read in place.
      const uint8_t* t = mem.gpa_to_host(d.addr, d.len);
      if (!t) return fail(RingError::address_not_mapped);
      table = t;
      table_len = d.len / sizeof(VringDesc);
      seen = 0;
      in_indirect = true;
      i = 0;
      continue;
    }

    const bool writable = d.flags & kDescFWrite;
    if (!writable && out.nwritable > 0) return fail(RingError::readable_after_writable);
    total += d.len;
    if (total > cfg_.max_chain_bytes) return fail(RingError::chain_too_long);

    size_t before = nspans;
    switch (mem.translate_gpa(d.addr, d.len, out.spans.data(), Chain::kMaxSpans, nspans)) {
      case TranslateStatus::ok: break;
      case TranslateStatus::unmapped: return fail(RingError::address_not_mapped);
      case TranslateStatus::too_many_spans: return fail(RingError::too_many_segments);
    }
    const auto added = static_cast<uint16_t>(nspans - before);
    if (writable) {
      out.nwritable += added;
      out.writable_bytes += d.len;
    } else {
      out.nreadable += added;
      out.readable_bytes += d.len;
    }

    if (!(d.flags & kDescFNext)) break;
    i = d.next;
  }

  ++last_avail_;
  return PopStatus::chain;
}

void SplitRingDevice::push_used(uint16_t id, uint32_t len) {
  VringUsedElem* e = &used_ring()[used_idx_ & (cfg_.size - 1)];
  e->id = id;
  e->len = len;
  ++used_idx_;
}

void SplitRingDevice::push_used_batch(const VringUsedElem* elems, size_t n) {
  // Copy in at most two runs: up to the end of the ring, then from its start.
  size_t start = used_idx_ & (cfg_.size - 1);
  size_t first = std::min<size_t>(n, cfg_.size - start);
  std::memcpy(&used_ring()[start], elems, first * sizeof(VringUsedElem));
  std::memcpy(&used_ring()[0], elems + first, (n - first) * sizeof(VringUsedElem));
  used_idx_ = static_cast<uint16_t>(used_idx_ + n);
}

void SplitRingDevice::publish_used() {
  if (used_idx_ == published_used_) return;
  // If used idx moves past the last signalled value by a whole wrap, that value can no longer
  // be compared with used_event (Linux vhost_add_used_n does the same).
  if (static_cast<uint16_t>(used_idx_ - signalled_used_) < static_cast<uint16_t>(used_idx_ - published_used_))
    signalled_used_valid_ = false;
  // Release: the used entries written above are visible before the new idx.
  store_u16(cfg_.used + kRingIdxOff, used_idx_, std::memory_order_release);
  published_used_ = used_idx_;
}

bool SplitRingDevice::need_notify() {
  // Full fence: our used->idx store is ordered before reading what the driver asked for.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!cfg_.event_idx) {
    return !(load_u16(cfg_.avail + kRingFlagsOff, std::memory_order_relaxed) & kAvailFNoInterrupt);
  }
  const uint16_t old = signalled_used_;
  const bool valid = signalled_used_valid_;
  const uint16_t now = published_used_;
  signalled_used_ = now;
  signalled_used_valid_ = true;
  if (!valid) return true;
  const uint16_t event = load_u16(cfg_.avail + used_event_off(cfg_.size), std::memory_order_relaxed);
  return vring_need_event(event, now, old);
}

void SplitRingDevice::disable_notify() {
  if (!notify_enabled_) return;
  notify_enabled_ = false;
  // With EVENT_IDX the driver compares against avail_event, which we simply stop advancing.
  if (!cfg_.event_idx) store_u16(cfg_.used + kRingFlagsOff, kUsedFNoNotify, std::memory_order_relaxed);
}

bool SplitRingDevice::enable_notify() {
  notify_enabled_ = true;
  if (cfg_.event_idx) {
    store_u16(cfg_.used + avail_event_off(cfg_.size), last_avail_, std::memory_order_relaxed);
  } else {
    store_u16(cfg_.used + kRingFlagsOff, 0, std::memory_order_relaxed);
  }
  // Full fence: the store above is visible before we re-read avail->idx, so a driver that
  // added a buffer after our last look either sees notifications on or we see its buffer.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  cached_avail_ = load_avail_idx();
  return cached_avail_ != last_avail_;
}

}  // namespace vnet::virtio
