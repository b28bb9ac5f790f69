#include "driver/driver_memory.h"

#include "virtio/ring_layout.h"

namespace vnet::driver {

size_t LayoutPlanner::place(size_t bytes, size_t align) {
  const size_t off = virtio::align_up(next_, align);
  next_ = off + bytes;
  return off;
}

size_t LayoutPlanner::total() const { return virtio::align_up(next_ == 0 ? 1 : next_, 4096); }

Result<std::unique_ptr<DriverMemory>> DriverMemory::create(size_t bytes) {
  auto m = MemfdMapping::create("vnet-driver-mem", bytes);
  if (!m) return m.error();
  return std::unique_ptr<DriverMemory>(new DriverMemory(std::move(m).value()));
}

MemRegionDesc DriverMemory::region() const {
  return MemRegionDesc{kGpaBase, mem_.size(), reinterpret_cast<uintptr_t>(mem_.data()), 0, mem_.fd()};
}

}  // namespace vnet::driver
