// Fuzzes the device engine's TX parsing and RX delivery: the fuzzer's bytes become guest
// memory holding a TX ring and an RX ring (descriptors, avail rings, indirect tables, frames,
// headers split anywhere). The device pops TX chains into packets (virtio-net header and frame
// read from the spans), delivers them with a fuzzed VLAN edit into the same guest's RX ring
// (mergeable or not), and completes the chains. Guest memory is a heap buffer so that ASan flags
// any access outside it; the byte-exact checks live in tests/device.
//
// Input: [0] flags (bit0 MRG_RXBUF, bit1 EVENT_IDX, bit2 VERSION_1, bits3-4 VLAN edit),
//        [1] log2 queue size (mod 9), [2..3] VID, then the guest memory image from GPA 0.
// Layout: TX desc 0x0000, avail 0x1000, used 0x2000; RX desc 0x3000, avail 0x4000, used 0x5000.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "base/log.h"
#include "device/virtio_net_device.h"
#include "mem/guest_memory.h"

using namespace vnet;

namespace {
constexpr size_t kGuestBytes = 64 * 1024;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (log::set_level(log::Level::off), true);  // broken rings log a line each
  (void)quiet;
  if (size < 4) return 0;
  const uint8_t flags = data[0];
  const uint16_t qsize = static_cast<uint16_t>(1u << (data[1] % 9));
  const auto edit = static_cast<dataplane::VlanEdit>((flags >> 3) % 3);
  const uint16_t vid = static_cast<uint16_t>((data[2] | (data[3] << 8)) & 0xfff);
  data += 4;
  size -= 4;

  auto guest = std::make_unique<uint8_t[]>(kGuestBytes);
  std::memset(guest.get(), 0, kGuestBytes);
  std::memcpy(guest.get(), data, std::min(size, kGuestBytes));
  std::vector<MemoryRegion> regions{{0, 0, kGuestBytes, 0, guest.get(), Mapping::borrow(guest.get(), kGuestBytes)}};
  GuestMemory memory;
  memory.replace(MemoryTable::from_regions(std::move(regions)).value());

  virtio::Features f = 0;
  if (flags & 1) f |= virtio::bit(virtio::kNetFMrgRxbuf);
  if (flags & 2) f |= virtio::bit(virtio::kFRingEventIdx);
  if (flags & 4) f |= virtio::bit(virtio::kFVersion1);

  device::VirtioNetDevice dev(device::DeviceConfig{.name = "fuzz", .max_frame_len = 9000});
  dev.attach_memory(&memory);
  dev.set_features(f);
  for (uint16_t vq = 0; vq < 2; ++vq) {
    uint8_t* base = guest.get() + (vq == 1 ? 0 : 0x3000);
    vhost_user::VringSetup s;
    s.index = vq;
    s.size = qsize;
    s.desc = base;
    s.avail = base + 0x1000;
    s.used = base + 0x2000;
    s.enabled = true;
    dev.start_ring(s);
  }

  dataplane::Packet pkts[dataplane::kBurstSize];
  dataplane::TxItem items[dataplane::kBurstSize];
  for (int round = 0; round < 4; ++round) {
    const uint16_t n = dev.tx_receive(0, pkts, dataplane::kBurstSize);
    if (n == 0) break;
    for (uint16_t i = 0; i < n; ++i) {
      // Touch every frame byte the packet claims.
      volatile uint8_t sum = 0;
      uint32_t left = pkts[i].len, off = pkts[i].offset;
      for (uint16_t s = 0; s < pkts[i].nspans && left; ++s, off = 0)
        for (uint32_t b = off; b < pkts[i].spans[s].len && left; ++b, --left)
          sum = static_cast<uint8_t>(sum + pkts[i].spans[s].data[b]);
      if (left != 0) __builtin_trap();  // a packet longer than its spans
      items[i] = {&pkts[i], edit, vid};
    }
    dev.rx_transmit(0, items, n);
    dev.tx_done(0);
  }
  (void)dev.tx_enable_notify(0);
  dev.stop_ring(0);
  dev.stop_ring(1);
  return 0;
}
