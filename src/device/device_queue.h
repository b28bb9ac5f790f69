// The state of one virtqueue of the device: the device side of the ring, its lifecycle flags,
// its fds, counters, and the scratch space its datapath uses (popped TX chains, shadow used
// entries), allocated once when the device is built so that the hot path never allocates.
//
// Concurrency: `lock` is held by the datapath for as long as it works on the ring (a TX queue:
// from receive() to receive_done(), so that chains handed to the switch stay popped; an RX
// queue: for one transmit() call) and by the control path (start/stop/enable/set_call_fd) to
// change it. Taking it is how stop_ring() knows that no thread touches the ring any more and
// that every popped chain was completed. In the common case only one thread wants it. Fields
// below the lock are only accessed with it held, except kick_fd (atomic, read by wait_fd()) and
// counters (relaxed atomics, read at any time).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "base/spinlock.h"
#include "dataplane/packet.h"
#include "device/queue_counters.h"
#include "offload/segmenter.h"
#include "virtio/split_ring_device.h"

namespace vnet::device {

constexpr uint16_t kTxBurst = dataplane::kBurstSize;  // chains popped per receive()
constexpr uint16_t kUsedFlushBatch = 64;               // RX used entries published per flush
// A frame may spread over this many mergeable RX buffers; more and it is dropped as too_big
// (64 KiB in 256-byte buffers: far below what any driver posts).
constexpr uint16_t kMaxRxChainsPerPacket = 256;
// Software segmentation writes one segment at a time here: headers + gso_size never exceed
// the IP length fields (offload::validate refuses larger), plus a tag a VLAN edit may add later.
constexpr uint32_t kSegmentBufferBytes = 65536 + 256;

// Scratch of a TX queue: the chains of the burst handed to the switch.
struct TxScratch {
  std::array<virtio::Chain, kTxBurst> chains;
  std::array<virtio::VringUsedElem, kTxBurst> used;
  uint16_t npopped = 0;    // chains popped in the open burst (good and dropped)
  bool burst_open = false; // receive() returned packets and holds the lock until receive_done()
  // SEND_RARP: a frame announcing the guest's MAC, handed to the switch with the next burst of
  // queue pair 0 as if the guest had sent it (the buffer stays put until receive_done()).
  std::array<uint8_t, 60> rarp_frame{};
  HostSpan rarp_span{};
  bool rarp_pending = false;
};

// Scratch of an RX queue: the first chain of the frame being written (its header is written
// last, when num_buffers is known), the current extra chain, and the shadow used ring.
struct RxScratch {
  virtio::Chain first;
  virtio::Chain next;
  std::array<virtio::VringUsedElem, kUsedFlushBatch + kMaxRxChainsPerPacket> used;
  uint16_t pending = 0;     // entries in `used` not yet pushed to the ring
  bool published = false;   // this transmit call published used entries (notify decision due)
  // Software offload fallback for a destination without the source's offloads (rx_path.cc):
  // the segmenter and the buffer each segment is built in, allocated once with the queue.
  offload::Segmenter segmenter;
  std::unique_ptr<uint8_t[]> segment = std::make_unique_for_overwrite<uint8_t[]>(kSegmentBufferBytes);
};

struct alignas(64) DeviceQueue {
  SpinLock lock;
  virtio::SplitRingDevice ring;
  bool started = false;     // start_ring() .. stop_ring()
  bool enabled = false;     // SET_VRING_ENABLE
  bool mrg_rxbuf = false;   // negotiated when the ring started
  bool error_reported = false;
  uint32_t hdr_len = 12;    // virtio-net header bytes for the features the ring started with
  // Negotiated features when the ring started: TX checks a source's offload headers against
  // the HOST_* bits, RX decides pass-through or software work with the GUEST_* bits.
  virtio::Features features = 0;
  int call_fd = -1;
  int err_fd = -1;          // SET_VRING_ERR eventfd: told when the ring is found broken
  std::atomic<int> kick_fd{-1};
  QueueCounters counters;
  // Exactly one of these, by queue parity (odd: TX, even: RX).
  std::unique_ptr<TxScratch> tx;
  std::unique_ptr<RxScratch> rx;
};

inline bool is_tx_queue(uint16_t vq) { return vq & 1; }
inline uint16_t rx_vq(uint16_t qp) { return static_cast<uint16_t>(2 * qp); }
inline uint16_t tx_vq(uint16_t qp) { return static_cast<uint16_t>(2 * qp + 1); }

}  // namespace vnet::device

namespace vnet::device {

// Who a queue belongs to, for the one log line a broken ring produces.
struct QueueContext {
  const char* device_name;
  uint16_t vq;
};

// The ring was found broken: count it, log one line and signal the front-end's error eventfd,
// once per breakage (the flag is reset when the ring is started again).
void report_ring_error(DeviceQueue& q, const QueueContext& ctx);

// Makes the used entries pushed since the last call visible and interrupts the driver if it
// asked for it (EVENT_IDX used_event or NO_INTERRUPT). One eventfd write at most. Only call it
// after pushing at least one entry: without EVENT_IDX need_notify() answers "interrupts
// wanted", not "something new".
void publish_and_notify(DeviceQueue& q);

}  // namespace vnet::device
