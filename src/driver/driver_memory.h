// The guest memory our userspace driver shares with a vhost-user back-end: one memfd region in
// which GPA = offset in the region and the front-end VA (what SET_VRING_ADDR carries) = our own
// pointer. The layout (rings, indirect tables, RX buffers, TX buffers) is planned first with a
// LayoutPlanner, then the memfd is created at the planned size; nothing is ever reallocated, so
// every pointer handed to a queue stays valid for the driver's lifetime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/error.h"
#include "base/memfd.h"

namespace vnet::driver {

// What SET_MEM_TABLE carries for one region (fd borrowed from the owner).
struct MemRegionDesc {
  uint64_t guest_phys_addr;
  uint64_t memory_size;
  uint64_t userspace_addr;
  uint64_t mmap_offset;
  int fd;
};

// Bump planner: hands out aligned offsets; total() is the size to create.
class LayoutPlanner {
 public:
  size_t place(size_t bytes, size_t align);
  // Rounded up to a page: back-ends map whole pages (DPDK aligns to the fd's block size).
  size_t total() const;

 private:
  size_t next_ = 0;
};

class DriverMemory {
 public:
  static Result<std::unique_ptr<DriverMemory>> create(size_t bytes);

  uint8_t* at(size_t off) const { return mem_.data() + off; }
  uint64_t gpa(size_t off) const { return kGpaBase + off; }
  uint64_t va(size_t off) const { return reinterpret_cast<uintptr_t>(mem_.data() + off); }
  size_t size() const { return mem_.size(); }
  MemRegionDesc region() const;

  // GPA 0 like a real guest's RAM: the back-end must translate GPAs and VAs separately.
  static constexpr uint64_t kGpaBase = 0;

 private:
  explicit DriverMemory(MemfdMapping m) : mem_(std::move(m)) {}
  MemfdMapping mem_;
};

}  // namespace vnet::driver
