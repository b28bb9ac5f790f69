// Survives a front-end that shrinks the file behind its guest memory.
//
// Guest memory is an fd the front-end passed us, mapped MAP_SHARED. If the front-end truncates
// that file afterwards (ftruncate of an unsealed memfd), the next access to the lost pages
// raises SIGBUS, and the default action kills the daemon and with it every other guest. The
// guard catches SIGBUS on registered mappings: it replaces the lost page(s) with private zero
// pages (MAP_FIXED), counts the fault on the mapping and signals an eventfd, and returns, so
// the faulting load or store is retried on the zero page. The reader sees zeros (a ring full of
// zeros is at worst a broken ring); the control path sees the count and drops the front-end.
// A SIGBUS anywhere else is not ours: the previous handler (or the default action) runs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vnet {

class SigbusGuard {
 public:
  static constexpr int kMaxRanges = 1024;

  // Installs the process-wide SIGBUS handler (once; later calls do nothing). Returns false if
  // sigaction or the eventfd failed (the process then runs unguarded, as before).
  static bool install();
  // Registers [base, base + length), mapped in pages of `page_size` (4 KiB, or a huge page
  // size for hugetlbfs). Returns the slot, or -1 if every slot is taken (left unguarded).
  static int add(uint8_t* base, size_t length, size_t page_size);
  // Unregisters a slot. Call before the range is unmapped, when nothing can touch it.
  static void remove(int slot);
  // Pages replaced in a slot since it was added.
  static uint64_t faults(int slot);
  // Readable (eventfd) after a fault; -1 before install(). The handler never blocks on it.
  static int event_fd();
};

}  // namespace vnet
