// Guest-side traffic for device benchmarks: keeps guest A's TX ring full of prebuilt frames and
// guest B's RX ring full of empty mergeable buffers, reclaiming what the device completed. The
// frames are written once: the benchmark measures the device, not a guest filling buffers.
#pragma once

#include <cstring>
#include <vector>

#include "device/guest_harness.h"

namespace vnet::device::bench {

class Traffic {
 public:
  static constexpr uint32_t kRxBuf = 2048;

  Traffic(testing::GuestHarness& a, testing::GuestHarness& b, uint32_t frame_len) : a_(a), b_(b), len_(frame_len) {
    auto& tx = a_.queue(1);
    for (uint16_t s = 0; s < a_.options().qsize; ++s) {
      uint8_t* p = a_.slot_ptr(tx, s);
      std::memset(p, 0, a_.hdr_len());
      for (uint32_t i = 0; i < frame_len; ++i) p[a_.hdr_len() + i] = static_cast<uint8_t>(i * 7 + s);
      p[a_.hdr_len() + 12] = 0x08;  // IPv4 ethertype: untagged
      p[a_.hdr_len() + 13] = 0x00;
      tx_free_.push_back(s);
    }
    for (uint16_t s = 0; s < b_.options().qsize; ++s) rx_free_.push_back(s);
    // Busy polling on both sides: no interrupts wanted.
    a_.queue(1).drv->disable_cb();
    b_.queue(0).drv->disable_cb();
  }

  // One round of guest work: reclaim and re-post everything. Returns TX chains added.
  uint32_t step() {
    auto& tx = a_.queue(1);
    auto& rx = b_.queue(0);
    while (auto u = tx.drv->get_buf()) tx_free_.push_back(slot_of(u->token));
    while (auto u = rx.drv->get_buf()) rx_free_.push_back(slot_of(u->token));
    uint32_t added = 0;
    while (!tx_free_.empty()) {
      const uint16_t s = tx_free_.back();
      const virtio::Segment seg{a_.slot_gpa(tx, s), a_.hdr_len() + len_};
      if (tx.drv->add(std::span(&seg, 1), {}, token(s)) != virtio::AddStatus::ok) break;
      tx_free_.pop_back();
      ++added;
    }
    while (!rx_free_.empty()) {
      const uint16_t s = rx_free_.back();
      const virtio::Segment seg{b_.slot_gpa(rx, s), kRxBuf};
      if (rx.drv->add({}, std::span(&seg, 1), token(s)) != virtio::AddStatus::ok) break;
      rx_free_.pop_back();
    }
    return added;
  }

 private:
  static void* token(uint16_t s) { return reinterpret_cast<void*>(uintptr_t{s} + 1); }
  static uint16_t slot_of(void* t) { return static_cast<uint16_t>(reinterpret_cast<uintptr_t>(t) - 1); }
  testing::GuestHarness& a_;
  testing::GuestHarness& b_;
  uint32_t len_;
  std::vector<uint16_t> tx_free_, rx_free_;  // capacity fixed at construction: no allocation later
};

// Sender A: 256-entry rings. Receiver B: 1024 RX buffers, so that B never runs short while the
// guest thread refills A first (no rx drops distort the figures).
inline testing::GuestOptions bench_sender() {
  testing::GuestOptions o;
  o.qsize = 256;
  o.slot_bytes = 2048;
  return o;
}
inline testing::GuestOptions bench_receiver() {
  testing::GuestOptions o = bench_sender();
  o.qsize = 1024;
  return o;
}

}  // namespace vnet::device::bench
