// Device side of a split virtqueue (the role of Linux vhost.c: vhost_get_vq_desc,
// vhost_add_used_n, vhost_notify, vhost_enable_notify).
//
// The ring areas are host pointers into guest memory, translated once by the caller (vhost-user
// SET_VRING_ADDR) and re-translated when the memory table changes. Buffers are translated on
// every pop through the MemoryTable the caller passes (the current one under QSBR).
//
// Everything read from guest memory is untrusted: each index and length is checked, and the
// first violation marks the queue broken with a distinct RingError. A broken queue pops nothing
// until it is reconfigured.
//
// Memory ordering (VIRTIO 1.2 2.7.13 and 2.7.14):
//  - avail->idx is loaded with acquire before the avail entries and descriptors it covers;
//  - used entries are plain stores, used->idx is published with release after them;
//  - a full fence separates publishing used->idx from reading used_event/avail flags (notify
//    decision) and enabling notifications from re-reading avail->idx (the lost-kick race).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "mem/guest_memory.h"
#include "virtio/ring_error.h"
#include "virtio/ring_layout.h"

namespace vnet::virtio {

// Host spans a popped chain occupies: readable spans first, then writable ones.
struct Chain {
  static constexpr size_t kMaxSpans = 256;
  uint16_t head = 0;
  uint16_t nreadable = 0;  // spans [0, nreadable) are device-readable
  uint16_t nwritable = 0;  // spans [nreadable, nreadable + nwritable) are device-writable
  uint32_t readable_bytes = 0;
  uint32_t writable_bytes = 0;
  std::array<HostSpan, kMaxSpans> spans;

  const HostSpan* readable() const { return spans.data(); }
  const HostSpan* writable() const { return spans.data() + nreadable; }
};

struct DeviceRingConfig {
  uint16_t size = 0;
  uint8_t* desc = nullptr;   // host pointers of the three areas, each fully mapped
  uint8_t* avail = nullptr;
  uint8_t* used = nullptr;
  bool event_idx = false;
  uint32_t max_chain_bytes = 1u << 20;  // larger chains are refused (chain_too_long)
};

enum class PopStatus { chain, empty, broken };

class SplitRingDevice {
 public:
  SplitRingDevice() = default;

  // Sets up the ring. last_avail/used indexes come from set_last_avail() (vhost-user
  // SET_VRING_BASE) and the used idx in guest memory.
  void configure(const DeviceRingConfig& cfg);
  // Moves the ring areas (memory table replaced) without touching indexes.
  void relocate(uint8_t* desc, uint8_t* avail, uint8_t* used);
  void set_event_idx(bool on) { cfg_.event_idx = on; }
  bool configured() const { return cfg_.size != 0; }
  uint16_t size() const { return cfg_.size; }

  // Takes the next available chain and translates it into host spans.
  PopStatus pop(const MemoryTable& mem, Chain& out);
  // Number of chains the driver has made available and we have not popped (0 if broken).
  uint16_t pending();
  // Gives back the last n popped heads (vhost_discard_vq_desc).
  void unpop(uint16_t n) { last_avail_ -= n; }

  // Queues a used entry; nothing is visible to the driver until publish_used().
  void push_used(uint16_t id, uint32_t len);
  void push_used_batch(const VringUsedElem* elems, size_t n);
  // Makes every pushed entry visible (release store of used->idx).
  void publish_used();
  // After publish_used(): should the driver be interrupted? Updates signalled_used tracking.
  bool need_notify();

  // Notification suppression towards the driver's kicks.
  void disable_notify();
  // Re-enables kicks. Returns true if buffers arrived meanwhile (the caller keeps polling).
  bool enable_notify();

  uint16_t last_avail() const { return last_avail_; }
  void set_last_avail(uint16_t idx) { last_avail_ = idx; cached_avail_ = idx; }
  uint16_t used_idx() const { return used_idx_; }
  // Takes used idx from guest memory (ring start after SET_VRING_BASE / reconnect).
  void sync_used_idx_from_ring();

  bool broken() const { return error_ != RingError::none; }
  RingError error() const { return error_; }
  void clear_error() { error_ = RingError::none; }

 private:
  PopStatus fail(RingError e) {
    error_ = e;
    return PopStatus::broken;
  }
  uint16_t load_avail_idx() const;
  uint16_t* avail_ring() const { return reinterpret_cast<uint16_t*>(cfg_.avail + kAvailRingOff); }
  VringUsedElem* used_ring() const { return reinterpret_cast<VringUsedElem*>(cfg_.used + kUsedRingOff); }

  DeviceRingConfig cfg_{};
  uint16_t last_avail_ = 0;    // next avail entry to pop
  uint16_t cached_avail_ = 0;  // avail->idx as last read
  uint16_t used_idx_ = 0;      // next used entry (shadow, published by publish_used)
  uint16_t published_used_ = 0;
  uint16_t signalled_used_ = 0;
  bool signalled_used_valid_ = false;
  bool notify_enabled_ = true;
  RingError error_ = RingError::none;
};

}  // namespace vnet::virtio
