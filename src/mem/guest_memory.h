// Guest memory as the back-end sees it: a table of regions shared by the front-end (each an fd
// mapped MAP_SHARED), and translation of guest addresses into host spans.
//
// Two address spaces are translated: guest physical addresses (GPA, used in descriptors) and
// front-end virtual addresses (VA, used by vhost-user SET_VRING_ADDR for the ring areas).
// A table is immutable once built; changes build a new table. Readers (poll threads) use the
// current table without locks; GuestMemory::replace() publishes a new one and releases the old
// one only after every reader has passed a quiescent point (base/qsbr.h).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/error.h"
#include "base/qsbr.h"

namespace vnet {

// A contiguous piece of host memory that a guest buffer maps to.
struct HostSpan {
  uint8_t* data;
  uint32_t len;
};

// What the front-end sends for one region (vhost-user memory region + its fd).
struct RegionSpec {
  int fd;                  // borrowed: mapped, not kept
  uint64_t mmap_offset;    // offset of the region inside the fd
  uint64_t size;
  uint64_t guest_phys_addr;
  uint64_t user_addr;      // front-end virtual address
};

// An mmap of (part of) an fd, shared between the tables that contain its region.
class Mapping {
 public:
  static Result<std::shared_ptr<Mapping>> map_fd(int fd, uint64_t length);
  // Wraps memory owned by someone else (tests, our own front-end); not unmapped.
  static std::shared_ptr<Mapping> borrow(uint8_t* base, uint64_t length);
  ~Mapping();
  uint8_t* base() const { return base_; }
  uint64_t length() const { return length_; }
  // Pages the front-end truncated away under us and that were replaced by zeros (see
  // mem/sigbus_guard.h); 0 for borrowed memory, which is not guarded.
  uint64_t sigbus_faults() const;
  Mapping(uint8_t* base, uint64_t length, bool owned, int guard_slot = -1)
      : base_(base), length_(length), owned_(owned), guard_slot_(guard_slot) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

 private:
  uint8_t* base_;
  uint64_t length_;
  bool owned_;
  int guard_slot_;  // SigbusGuard slot, -1: unguarded
};

struct MemoryRegion {
  uint64_t gpa;
  uint64_t user_addr;
  uint64_t size;
  uint64_t mmap_offset;
  uint8_t* host;  // host address of gpa (mapping base + mmap_offset)
  std::shared_ptr<Mapping> mapping;
};

enum class TranslateStatus { ok, unmapped, too_many_spans };

class MemoryTable {
 public:
  // Maps every region's fd and builds a table. Refuses zero-sized regions, address overflow and
  // regions overlapping another (in GPA or in VA).
  static Result<std::shared_ptr<const MemoryTable>> map(std::span<const RegionSpec> specs);
  // Builds a table from regions already mapped (the mappings are shared with their old tables).
  static Result<std::shared_ptr<const MemoryTable>> from_regions(std::vector<MemoryRegion> regions);

  // Translates [gpa, gpa+len) into spans appended to out[n..]; several when the buffer crosses
  // regions. On error nothing past the returned count is meaningful.
  TranslateStatus translate_gpa(uint64_t gpa, uint64_t len, HostSpan* out, size_t max, size_t& n) const;
  TranslateStatus translate_va(uint64_t va, uint64_t len, HostSpan* out, size_t max, size_t& n) const;
  // Host pointer for [gpa, gpa+len) when it lies inside one region, else nullptr.
  uint8_t* gpa_to_host(uint64_t gpa, uint64_t len) const;
  uint8_t* va_to_host(uint64_t va, uint64_t len) const;

  const std::vector<MemoryRegion>& regions() const { return regions_; }
  // Pages of this table's mappings lost to a truncation by the front-end (mem/sigbus_guard.h).
  uint64_t sigbus_faults() const;

 private:
  explicit MemoryTable(std::vector<MemoryRegion> r) : regions_(std::move(r)) {}
  template <bool kByGpa>
  uint8_t* to_host(uint64_t addr, uint64_t len) const;
  template <bool kByGpa>
  TranslateStatus translate(uint64_t addr, uint64_t len, HostSpan* out, size_t max, size_t& n) const;
  std::vector<MemoryRegion> regions_;  // sorted by gpa
};

// The current table of one device, readable lock-free by poll threads.
class GuestMemory {
 public:
  explicit GuestMemory(Qsbr& qsbr = Qsbr::global()) : qsbr_(qsbr) {}
  // Valid until the calling reader's next quiescent point. May be null (no table yet).
  const MemoryTable* current() const { return current_.load(std::memory_order_acquire); }
  std::shared_ptr<const MemoryTable> shared() const { return owner_; }
  // Publishes `table` (may be null) and waits for readers before releasing the old one.
  // Called from the control thread only.
  void replace(std::shared_ptr<const MemoryTable> table);

 private:
  Qsbr& qsbr_;
  std::shared_ptr<const MemoryTable> owner_;
  std::atomic<const MemoryTable*> current_{nullptr};
};

}  // namespace vnet
