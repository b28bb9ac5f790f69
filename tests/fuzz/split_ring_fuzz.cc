// Fuzzes the device side of the split ring: the fuzzer's bytes become the descriptor table,
// the avail ring and the indirect tables in "guest memory"; the device pops, touches every
// span it was given (read and write), completes and re-arms notifications. Guest memory is a
// heap buffer so that ASan flags any access outside it.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "mem/guest_memory.h"
#include "virtio/split_ring_device.h"

using namespace vnet;
using namespace vnet::virtio;

namespace {
constexpr size_t kGuestBytes = 64 * 1024;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint16_t qsize = static_cast<uint16_t>(1u << (data[0] % 9));  // 1..256
  const bool event_idx = data[1] & 1;
  const uint32_t max_chain = 64 + (data[2] << 8);
  data += 4;
  size -= 4;

  // Guest memory: the fuzzer bytes are laid over it from GPA 0 (descriptor table at 0, avail
  // ring right after it, used ring at the end), the rest is zero.
  auto guest = std::make_unique<uint8_t[]>(kGuestBytes);
  std::memset(guest.get(), 0, kGuestBytes);
  std::memcpy(guest.get(), data, std::min(size, kGuestBytes));
  const size_t avail_off = desc_area_size(qsize);
  const size_t used_off = kGuestBytes - align_up(used_area_size(qsize), 64);

  std::vector<MemoryRegion> regions{{0, 0, kGuestBytes, 0, guest.get(), Mapping::borrow(guest.get(), kGuestBytes)}};
  auto table = MemoryTable::from_regions(std::move(regions)).value();

  SplitRingDevice dev;
  DeviceRingConfig cfg;
  cfg.size = qsize;
  cfg.desc = guest.get();
  cfg.avail = guest.get() + avail_off;
  cfg.used = guest.get() + used_off;
  cfg.event_idx = event_idx;
  cfg.max_chain_bytes = max_chain;
  dev.configure(cfg);
  dev.sync_used_idx_from_ring();

  auto chain = std::make_unique<Chain>();
  for (int i = 0; i < 2 * qsize + 2; ++i) {
    PopStatus st = dev.pop(*table, *chain);
    if (st != PopStatus::chain) break;
    volatile uint8_t sum = 0;
    for (uint16_t s = 0; s < chain->nreadable; ++s)
      for (uint32_t b = 0; b < chain->spans[s].len; ++b) sum = static_cast<uint8_t>(sum + chain->spans[s].data[b]);
    for (uint16_t s = 0; s < chain->nwritable; ++s) std::memset(chain->writable()[s].data, 0xab, chain->writable()[s].len);
    dev.push_used(chain->head, chain->writable_bytes);
    if (i % 3 == 0) {
      dev.publish_used();
      (void)dev.need_notify();
    }
  }
  dev.publish_used();
  (void)dev.need_notify();
  (void)dev.enable_notify();
  dev.disable_notify();
  (void)dev.pending();
  return 0;
}
