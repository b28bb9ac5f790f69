#include "mem/guest_memory.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>

#include "mem/sigbus_guard.h"

namespace vnet {

Result<std::shared_ptr<Mapping>> Mapping::map_fd(int fd, uint64_t length) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) return sys_error("fstat region fd");
  // Hugetlbfs fds must be mapped in whole pages of their block size.
  uint64_t block = st.st_blksize > 0 ? static_cast<uint64_t>(st.st_blksize) : 4096;
  uint64_t rounded = (length + block - 1) / block * block;
  if (rounded < length) return Error("region length overflows");
  void* p = ::mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (p == MAP_FAILED) return sys_error("mmap region of " + std::to_string(rounded) + " bytes");
  // The front-end may shrink the fd later; with the guard that costs it its connection, not
  // the daemon its life (no-op slot -1 when the guard is not installed or full).
  const int slot = SigbusGuard::add(static_cast<uint8_t*>(p), rounded, block);
  return std::make_shared<Mapping>(static_cast<uint8_t*>(p), rounded, true, slot);
}

uint64_t Mapping::sigbus_faults() const { return SigbusGuard::faults(guard_slot_); }

std::shared_ptr<Mapping> Mapping::borrow(uint8_t* base, uint64_t length) {
  return std::make_shared<Mapping>(base, length, false);
}

Mapping::~Mapping() {
  SigbusGuard::remove(guard_slot_);
  if (owned_) ::munmap(base_, length_);
}

uint64_t MemoryTable::sigbus_faults() const {
  uint64_t n = 0;
  for (const MemoryRegion& r : regions_) n += r.mapping ? r.mapping->sigbus_faults() : 0;
  return n;
}

namespace {
bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) { return a < b + blen && b < a + alen; }
}  // namespace

Result<std::shared_ptr<const MemoryTable>> MemoryTable::from_regions(std::vector<MemoryRegion> regions) {
  for (size_t i = 0; i < regions.size(); ++i) {
    const auto& r = regions[i];
    if (r.size == 0) return Error("memory region " + std::to_string(i) + " has size 0");
    if (r.gpa + r.size < r.gpa || r.user_addr + r.size < r.user_addr)
      return Error("memory region " + std::to_string(i) + " wraps the address space");
    for (size_t j = 0; j < i; ++j) {
      if (overlaps(r.gpa, r.size, regions[j].gpa, regions[j].size))
        return Error("memory regions " + std::to_string(j) + " and " + std::to_string(i) + " overlap in guest physical space");
      if (overlaps(r.user_addr, r.size, regions[j].user_addr, regions[j].size))
        return Error("memory regions " + std::to_string(j) + " and " + std::to_string(i) + " overlap in front-end address space");
    }
  }
  std::sort(regions.begin(), regions.end(), [](const auto& a, const auto& b) { return a.gpa < b.gpa; });
  return std::shared_ptr<const MemoryTable>(new MemoryTable(std::move(regions)));
}

Result<std::shared_ptr<const MemoryTable>> MemoryTable::map(std::span<const RegionSpec> specs) {
  std::vector<MemoryRegion> regions;
  for (size_t i = 0; i < specs.size(); ++i) {
    const auto& s = specs[i];
    if (s.size == 0) return Error("memory region " + std::to_string(i) + " has size 0");
    uint64_t length = s.mmap_offset + s.size;
    if (length < s.size) return Error("memory region " + std::to_string(i) + ": mmap_offset + size overflows");
    // Check the cheap things before mapping anything.
    if (s.guest_phys_addr + s.size < s.guest_phys_addr || s.user_addr + s.size < s.user_addr)
      return Error("memory region " + std::to_string(i) + " wraps the address space");
    auto m = Mapping::map_fd(s.fd, length);
    if (!m) return Error("memory region " + std::to_string(i) + ": " + m.error().message(), m.error().sys_errno());
    regions.push_back(MemoryRegion{s.guest_phys_addr, s.user_addr, s.size, s.mmap_offset,
                                   m.value()->base() + s.mmap_offset, m.value()});
  }
  return from_regions(std::move(regions));
}

template <bool kByGpa>
TranslateStatus MemoryTable::translate(uint64_t addr, uint64_t len, HostSpan* out, size_t max, size_t& n) const {
  while (len > 0) {
    const MemoryRegion* hit = nullptr;
    for (const auto& r : regions_) {
      uint64_t start = kByGpa ? r.gpa : r.user_addr;
      if (addr >= start && addr - start < r.size) {
        hit = &r;
        break;
      }
    }
    if (!hit) return TranslateStatus::unmapped;
    uint64_t off = addr - (kByGpa ? hit->gpa : hit->user_addr);
    uint64_t chunk = std::min<uint64_t>(len, hit->size - off);
    // Spans carry 32-bit lengths (descriptor lengths are 32-bit).
    chunk = std::min<uint64_t>(chunk, UINT32_MAX);
    if (n >= max) return TranslateStatus::too_many_spans;
    out[n++] = HostSpan{hit->host + off, static_cast<uint32_t>(chunk)};
    addr += chunk;
    len -= chunk;
  }
  return TranslateStatus::ok;
}

TranslateStatus MemoryTable::translate_gpa(uint64_t gpa, uint64_t len, HostSpan* out, size_t max, size_t& n) const {
  return translate<true>(gpa, len, out, max, n);
}

TranslateStatus MemoryTable::translate_va(uint64_t va, uint64_t len, HostSpan* out, size_t max, size_t& n) const {
  return translate<false>(va, len, out, max, n);
}

template <bool kByGpa>
uint8_t* MemoryTable::to_host(uint64_t addr, uint64_t len) const {
  for (const auto& r : regions_) {
    uint64_t start = kByGpa ? r.gpa : r.user_addr;
    if (addr >= start && addr - start < r.size) {
      uint64_t off = addr - start;
      return len <= r.size - off ? r.host + off : nullptr;
    }
  }
  return nullptr;
}

uint8_t* MemoryTable::gpa_to_host(uint64_t gpa, uint64_t len) const { return to_host<true>(gpa, len); }
uint8_t* MemoryTable::va_to_host(uint64_t va, uint64_t len) const { return to_host<false>(va, len); }

void GuestMemory::replace(std::shared_ptr<const MemoryTable> table) {
  auto old = std::move(owner_);
  owner_ = std::move(table);
  current_.store(owner_.get(), std::memory_order_release);
  // Readers that loaded the old pointer are done with it once they pass a quiescent point.
  qsbr_.synchronize();
  old.reset();  // unmaps regions no other table shares
}

}  // namespace vnet
