// Driver side of a split virtqueue (the role of Linux drivers/virtio/virtio_ring.c in a guest):
// add buffers, kick decision, get_buf with detach, and the callback (interrupt) suppression
// used by NAPI-style polling.
//
// The ring lives in memory shared with the device; descriptor addresses are guest physical
// addresses. The free list and per-head bookkeeping are kept in private memory so that a
// faulty device cannot corrupt them by writing to the ring.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "virtio/ring_error.h"
#include "virtio/ring_layout.h"

namespace vnet::virtio {

struct Segment {
  uint64_t addr;  // guest physical address
  uint32_t len;
};

struct DriverRingConfig {
  uint16_t size = 0;
  uint8_t* desc = nullptr;   // host pointers of the three areas
  uint8_t* avail = nullptr;
  uint8_t* used = nullptr;
  bool event_idx = false;
  // Indirect tables: a block of size * indirect_max descriptors in guest memory (one table per
  // head), or null when VIRTIO_F_INDIRECT_DESC is not negotiated.
  uint8_t* indirect = nullptr;
  uint64_t indirect_gpa = 0;
  uint16_t indirect_max = 0;
};

enum class AddStatus { ok, no_space, bad_args };

struct UsedBuffer {
  void* token;
  uint32_t len;
  bool len_error;  // device reported more bytes than the buffer could hold (len clamped)
};

class SplitRingDriver {
 public:
  explicit SplitRingDriver(const DriverRingConfig& cfg);

  // Makes a buffer of readable then writable segments available under `token` (non-null).
  AddStatus add(std::span<const Segment> out, std::span<const Segment> in, void* token);
  // After one or more add(): should the device be kicked? (virtqueue_kick_prepare)
  bool kick_prepare();

  // Next used buffer, if any. A used id that is not in flight marks the ring broken.
  std::optional<UsedBuffer> get_buf();

  // Callback (interrupt) suppression.
  void disable_cb();
  // Re-enables callbacks; returns the index to pass to poll().
  uint16_t enable_cb_prepare();
  // True if buffers were used since enable_cb_prepare() returned last_used (re-check).
  bool poll(uint16_t last_used);
  // Re-enables callbacks but asks for them only after ~3/4 of the in-flight buffers are used.
  // Returns false if that many are already used (the caller should keep polling).
  bool enable_cb_delayed();

  uint16_t num_free() const { return num_free_; }
  uint16_t size() const { return cfg_.size; }
  bool broken() const { return error_ != RingError::none; }
  RingError error() const { return error_; }
  // Buffers whose used len exceeded what they offered.
  uint64_t len_errors() const { return len_errors_; }
  uint16_t avail_idx() const { return avail_idx_; }
  uint16_t last_used() const { return last_used_; }

 private:
  struct HeadInfo {
    void* token = nullptr;
    uint16_t ndesc = 0;       // ring descriptors held (1 for an indirect buffer)
    uint32_t in_bytes = 0;    // writable bytes offered
  };
  VringDesc* ring_desc() const { return reinterpret_cast<VringDesc*>(cfg_.desc); }
  uint16_t* avail_ring() const { return reinterpret_cast<uint16_t*>(cfg_.avail + kAvailRingOff); }
  void write_avail_flags();
  void write_used_event(uint16_t v);
  uint16_t used_idx_acquire() const;

  DriverRingConfig cfg_;
  std::vector<uint16_t> next_;    // private free-list links
  std::vector<HeadInfo> heads_;
  uint16_t free_head_ = 0;
  uint16_t num_free_ = 0;
  uint16_t avail_idx_ = 0;       // shadow of avail->idx
  uint16_t num_added_ = 0;       // added since the last kick_prepare
  uint16_t last_used_ = 0;
  uint16_t avail_flags_ = 0;     // shadow of avail->flags
  uint64_t len_errors_ = 0;
  RingError error_ = RingError::none;
};

}  // namespace vnet::virtio
