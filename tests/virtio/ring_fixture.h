// Test memory for ring tests: one memfd is the whole "guest memory" (GPA 0 = offset 0), with a
// split ring at the start, indirect tables after it and a data area for buffers.
#pragma once

#include <cstring>
#include <memory>

#include "base/memfd.h"
#include "mem/guest_memory.h"
#include "virtio/ring_layout.h"
#include "virtio/split_ring_device.h"
#include "virtio/split_ring_driver.h"

namespace vnet::virtio::testing {

struct RingMemory {
  uint16_t qsize;
  uint16_t indirect_max;
  size_t ring_bytes, indirect_off, data_off, total;
  ContiguousLayout layout;
  MemfdMapping mem;
  std::shared_ptr<const MemoryTable> table;

  RingMemory(uint16_t size, size_t data_bytes, uint16_t ind_max = 16)
      : qsize(size),
        indirect_max(ind_max),
        layout(contiguous_layout(size)),
        mem(MemfdMapping::create("ring", compute_total(size, data_bytes, ind_max)).value()) {
    ring_bytes = layout.total;
    indirect_off = align_up(ring_bytes, 4096);
    data_off = align_up(indirect_off + static_cast<size_t>(size) * ind_max * 16, 4096);
    total = mem.size();
    std::vector<MemoryRegion> r{{0, 0x7f0000000000, total, 0, mem.data(), Mapping::borrow(mem.data(), total)}};
    table = MemoryTable::from_regions(std::move(r)).value();
  }
  static size_t compute_total(uint16_t size, size_t data_bytes, uint16_t ind_max) {
    size_t ring = align_up(contiguous_layout(size).total, 4096);
    return align_up(ring + align_up(static_cast<size_t>(size) * ind_max * 16, 4096) + data_bytes, 4096);
  }

  uint8_t* desc() const { return mem.data() + layout.desc_off; }
  uint8_t* avail() const { return mem.data() + layout.avail_off; }
  uint8_t* used() const { return mem.data() + layout.used_off; }
  uint8_t* data() const { return mem.data() + data_off; }
  uint64_t data_gpa() const { return data_off; }

  DeviceRingConfig device_config(bool event_idx) const {
    DeviceRingConfig c;
    c.size = qsize;
    c.desc = desc();
    c.avail = avail();
    c.used = used();
    c.event_idx = event_idx;
    return c;
  }
  DriverRingConfig driver_config(bool event_idx, bool indirect) const {
    DriverRingConfig c;
    c.size = qsize;
    c.desc = desc();
    c.avail = avail();
    c.used = used();
    c.event_idx = event_idx;
    if (indirect) {
      c.indirect = mem.data() + indirect_off;
      c.indirect_gpa = indirect_off;
      c.indirect_max = indirect_max;
    }
    return c;
  }

  // Raw ring writers for malformed-ring tests.
  VringDesc& d(uint32_t i) { return reinterpret_cast<VringDesc*>(desc())[i]; }
  void make_avail(uint16_t head) {
    auto* idx = reinterpret_cast<uint16_t*>(avail() + kRingIdxOff);
    reinterpret_cast<uint16_t*>(avail() + kAvailRingOff)[*idx & (qsize - 1)] = head;
    ++*idx;
  }
  void set_avail_idx(uint16_t v) { *reinterpret_cast<uint16_t*>(avail() + kRingIdxOff) = v; }
  uint16_t used_idx() const { return *reinterpret_cast<uint16_t*>(used() + kRingIdxOff); }
  VringUsedElem used_elem(uint16_t i) const {
    return reinterpret_cast<VringUsedElem*>(used() + kUsedRingOff)[i & (qsize - 1)];
  }
};

}  // namespace vnet::virtio::testing
