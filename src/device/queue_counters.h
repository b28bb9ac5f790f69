// Per-virtqueue counters of the device engine. Written only by the thread that holds the queue's
// lock (so a relaxed load + store is enough: no read-modify-write instruction on the hot path)
// and read by the control path at any time with relaxed loads (a snapshot may be a few packets
// stale, never torn: each counter is one 64-bit atomic).
#pragma once

#include <atomic>
#include <cstdint>

#include "virtio/ring_error.h"

namespace vnet::device {

// Why a packet or chain was dropped. TX reasons are counted on the guest's TX queue, RX reasons
// on the destination guest's RX queue.
enum class DropReason : uint8_t {
  no_rx_buffer,  // RX: the guest had no (or not enough) buffers: like tun's rx_dropped
  too_big,       // RX: the frame does not fit the chain(s) it got (or RX chain malformed)
  bad_chain,     // TX: chain with device-writable descriptors; RX: chain with readable ones
  short_frame,   // TX: fewer than virtio-net header + 14 bytes
  too_long,      // TX: frame longer than the configured maximum
  disabled,      // TX: chains drained from a disabled ring (SET_VRING_ENABLE 0)
  bad_offload,   // TX: virtio_net_hdr inconsistent with the frame or not negotiated (never
                 // trusted); RX: software segmentation impossible for such a header
  ring_broken,   // RX: the guest broke the ring (see last_ring_error); nothing is delivered
                 // until the front-end restarts it
  not_started,   // RX: the ring is not running (front-end gone or still setting up)
  count_,
};
const char* to_string(DropReason r);

// A plain copy of QueueCounters for the control path.
struct QueueStats {
  uint64_t packets = 0;     // TX: packets handed to the switch; RX: packets written to the guest
  uint64_t bytes = 0;       // frame bytes (virtio-net header excluded) of those packets
  uint64_t drops[static_cast<int>(DropReason::count_)] = {};
  uint64_t ring_errors = 0; // times the ring was found broken (counted once per breakage)
  // Why the ring is broken now (none once it is restarted).
  virtio::RingError last_ring_error = virtio::RingError::none;
  uint64_t kicks = 0;       // driver kicks seen (drained from the kick eventfd before sleeping)
  uint64_t calls = 0;       // call eventfd writes (interrupts) sent
  uint64_t empty_polls = 0; // receive()/transmit() calls that found nothing to do
  uint64_t busy_polls = 0;  // calls that moved at least one chain
  // RX: software offload work done for this destination (it lacked the negotiated offload).
  uint64_t sw_checksums = 0;   // NEEDS_CSUM frames completed while copying
  uint64_t sw_gso_frames = 0;  // GSO frames segmented
  uint64_t sw_segments = 0;    // segments those produced (each counted in packets as well)
  uint64_t drop(DropReason r) const { return drops[static_cast<int>(r)]; }
  uint64_t total_drops() const;
};

class QueueCounters {
 public:
  // Writers: only with the queue's lock held.
  void add_packet(uint32_t bytes) {
    bump(packets_, 1);
    bump(bytes_, bytes);
  }
  void add_drop(DropReason r, uint64_t n = 1) { bump(drops_[static_cast<int>(r)], n); }
  void add_ring_error(virtio::RingError e) {
    bump(ring_errors_, 1);
    last_ring_error_.store(e, std::memory_order_relaxed);
  }
  // The ring was restarted: last_ring_error no longer describes it (ring_errors keeps counting).
  void clear_ring_error() { last_ring_error_.store(virtio::RingError::none, std::memory_order_relaxed); }
  void add_kicks(uint64_t n) { bump(kicks_, n); }
  void add_call() { bump(calls_, 1); }
  void add_poll(bool had_work) { bump(had_work ? busy_polls_ : empty_polls_, 1); }
  void add_sw_checksum() { bump(sw_checksums_, 1); }
  void add_sw_gso(uint32_t segments) {
    bump(sw_gso_frames_, 1);
    bump(sw_segments_, segments);
  }

  // Readers: any thread, any time.
  QueueStats snapshot() const;

 private:
  // Single writer at a time (the lock holder), so load + store cannot lose an update.
  static void bump(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::atomic<uint64_t> packets_{0}, bytes_{0};
  std::atomic<uint64_t> drops_[static_cast<int>(DropReason::count_)] = {};
  std::atomic<uint64_t> ring_errors_{0};
  std::atomic<virtio::RingError> last_ring_error_{virtio::RingError::none};
  std::atomic<uint64_t> kicks_{0}, calls_{0}, empty_polls_{0}, busy_polls_{0};
  std::atomic<uint64_t> sw_checksums_{0}, sw_gso_frames_{0}, sw_segments_{0};
};

}  // namespace vnet::device
