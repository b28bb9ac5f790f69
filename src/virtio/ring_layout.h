// Split virtqueue memory layout (VIRTIO 1.2 section 2.7) and the event-index arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vnet::virtio {

constexpr uint16_t kDescFNext = 1;
constexpr uint16_t kDescFWrite = 2;
constexpr uint16_t kDescFIndirect = 4;

constexpr uint16_t kAvailFNoInterrupt = 1;  // VRING_AVAIL_F_NO_INTERRUPT
constexpr uint16_t kUsedFNoNotify = 1;      // VRING_USED_F_NO_NOTIFY

constexpr uint32_t kMaxQueueSize = 32768;

struct VringDesc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(VringDesc) == 16);

struct VringUsedElem {
  uint32_t id;
  uint32_t len;
};
static_assert(sizeof(VringUsedElem) == 8);

// Byte sizes of the three areas for a queue of `size` entries, event-index fields included.
constexpr size_t desc_area_size(uint32_t size) { return 16u * size; }
constexpr size_t avail_area_size(uint32_t size) { return 4u + 2u * size + 2u; }  // flags, idx, ring[], used_event
constexpr size_t used_area_size(uint32_t size) { return 4u + 8u * size + 2u; }   // flags, idx, ring[], avail_event

// Required alignment of each area (2.7 "Virtqueue alignment").
constexpr size_t kDescAlign = 16;
constexpr size_t kAvailAlign = 2;
constexpr size_t kUsedAlign = 4;

// Offsets of the fields inside the avail and used areas.
constexpr size_t kRingFlagsOff = 0;
constexpr size_t kRingIdxOff = 2;
constexpr size_t kAvailRingOff = 4;
constexpr size_t kUsedRingOff = 4;
constexpr size_t used_event_off(uint32_t size) { return 4u + 2u * size; }   // in the avail area
constexpr size_t avail_event_off(uint32_t size) { return 4u + 8u * size; }  // in the used area

// Where the areas go when one contiguous block holds a whole ring (used by our own driver).
struct ContiguousLayout {
  size_t desc_off, avail_off, used_off, total;
};
constexpr size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }
constexpr ContiguousLayout contiguous_layout(uint32_t size) {
  ContiguousLayout l{};
  l.desc_off = 0;
  l.avail_off = desc_area_size(size);
  l.used_off = align_up(l.avail_off + avail_area_size(size), 64);
  l.total = align_up(l.used_off + used_area_size(size), 64);
  return l;
}

// 2.7.10: true if the other side asked to be notified when the index moved from old_idx to
// new_idx, given the event index it published. All arithmetic is modulo 2^16.
constexpr bool vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx) {
  return static_cast<uint16_t>(new_idx - event_idx - 1) < static_cast<uint16_t>(new_idx - old_idx);
}

constexpr bool is_valid_queue_size(uint32_t size) {
  return size >= 1 && size <= kMaxQueueSize && (size & (size - 1)) == 0;
}

}  // namespace vnet::virtio
