// The virtio-net device in the vhost-net role: the vhost-user back-end feeds it ring setups
// (DeviceBackend), poll threads drive its TX and RX engines (tx_receive / tx_done / rx_transmit).
//
// Queue numbering (virtio-net): queue pair q has its RX ring at virtqueue 2q and its TX ring at
// 2q+1. "TX" and "RX" are the guest's point of view: the device reads TX, writes RX.
//
// Ring lifecycle and threads: each virtqueue has a spinlock (device_queue.h). The datapath
// holds it while it works on the ring, the control path takes it to start, stop, enable or
// re-point a ring. A TX queue's lock is held from tx_receive() (when it returned packets) to
// tx_done(), so stop_ring() returning means the chains handed to the switch were completed.
// Guest memory is read through GuestMemory::current(), valid until the calling poll thread's
// next QSBR quiescent point; the poll thread must not pass one between tx_receive() and
// tx_done().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dataplane/packet.h"
#include "device/device_queue.h"
#include "device/queue_counters.h"
#include "vhost_user/device_backend.h"

namespace vnet::device {

// Offloads (virtio_net_hdr): checksum and TSO/USO both ways. The device honours them end to
// end: a source's header is validated against its frame and its HOST_* bits (tx_path.cc); a
// destination without the matching GUEST_* bit gets the work done in software (rx_path.cc).
// QEMU masks the bits it does not know (USO before 8.2), which is fine.
constexpr virtio::Features kOffloadFeatures =
    virtio::bit(virtio::kNetFCsum) | virtio::bit(virtio::kNetFGuestCsum) | virtio::bit(virtio::kNetFHostTso4) |
    virtio::bit(virtio::kNetFHostTso6) | virtio::bit(virtio::kNetFGuestTso4) | virtio::bit(virtio::kNetFGuestTso6) |
    virtio::bit(virtio::kNetFHostUso) | virtio::bit(virtio::kNetFGuestUso4) | virtio::bit(virtio::kNetFGuestUso6);

// Features offered by default.
constexpr virtio::Features kDefaultDeviceFeatures =
    virtio::bit(virtio::kFVersion1) | virtio::bit(virtio::kNetFMrgRxbuf) | virtio::bit(virtio::kFRingEventIdx) |
    virtio::bit(virtio::kFRingIndirectDesc) | virtio::bit(virtio::kNetFMq) | virtio::bit(virtio::kNetFMtu) |
    virtio::bit(virtio::kNetFStatus) | kOffloadFeatures;

struct DeviceConfig {
  std::string name = "virtio-net";  // for log lines
  uint16_t queue_pairs = 1;         // 1..kMaxQueuePairs; MQ is offered whatever the count
  // Longest frame (bytes after the virtio-net header) accepted from the guest's TX ring; longer
  // chains are dropped as too_long. 65535: the largest frame a 16-bit length field can
  // describe, enough for any MTU a guest may set without GSO.
  uint32_t max_frame_len = 65535;
  virtio::Features features = kDefaultDeviceFeatures;
  // false: kOffloadFeatures are not offered (removed from `features`), so every header the
  // guest may send is all zero and it never receives one that needs work.
  bool offloads = true;
};

constexpr uint16_t kMaxQueuePairs = 256;

// Counters of one queue pair, for the control path.
struct QueuePairStats {
  QueueStats rx;  // virtqueue 2q: switch to guest
  QueueStats tx;  // virtqueue 2q+1: guest to switch
};

class VirtioNetDevice final : public vhost_user::DeviceBackend {
 public:
  explicit VirtioNetDevice(DeviceConfig cfg);
  ~VirtioNetDevice() override;
  VirtioNetDevice(const VirtioNetDevice&) = delete;
  VirtioNetDevice& operator=(const VirtioNetDevice&) = delete;

  // --- vhost_user::DeviceBackend (control thread) ---
  virtio::Features device_features() const override { return cfg_.features; }
  uint16_t max_queue_pairs() const override { return cfg_.queue_pairs; }
  void attach_memory(const GuestMemory* memory) override;
  void set_features(virtio::Features negotiated) override;
  void start_ring(const vhost_user::VringSetup& setup) override;
  uint16_t stop_ring(uint16_t index) override;
  void enable_ring(uint16_t index, bool enabled) override;
  void set_call_fd(uint16_t index, int call_fd) override;
  void set_mtu(uint16_t mtu) override;
  void send_rarp(const uint8_t mac[6]) override;
  void reset() override;

  // --- datapath (poll threads), qp = queue pair ---
  // Pops up to `max` packets from the guest's TX ring of qp. If it returns > 0 the queue stays
  // locked and the packets valid until tx_done(qp), which the same thread must call; with 0
  // there is nothing to release (tx_done() is then a no-op).
  uint16_t tx_receive(uint16_t qp, dataplane::Packet* out, uint16_t max);
  void tx_done(uint16_t qp);
  // Copies items into the guest's RX ring of qp; safe from several threads (serialized by the
  // queue lock). Undeliverable packets are dropped and counted on that RX queue.
  void rx_transmit(uint16_t qp, const dataplane::TxItem* items, uint16_t n);

  // Kick eventfd of qp's TX ring (-1 if the ring is not started or the driver gave none). It
  // changes when the ring is restarted: re-read it after generation() changed.
  int tx_kick_fd(uint16_t qp) const;
  // Kick suppression on qp's TX ring. enable returns true if chains arrived meanwhile (keep
  // polling); it also drains the kick eventfd (counted as kicks) so that a sleeping poll
  // thread wakes only for new kicks.
  bool tx_enable_notify(uint16_t qp);
  void tx_disable_notify(uint16_t qp);

  // Two queue pair counts, because polling and delivering follow different rules (vhost-user
  // "Ring states"): a started but disabled ring must still be processed on the TX side (its
  // chains consumed), but must not be given RX packets. Linux with `queues=2` and one combined
  // channel in use has pair 1 started and disabled.
  //
  // Pairs to poll: 1 + the highest pair with a started ring, 0 when none.
  uint16_t num_started_queue_pairs() const { return started_qps_.load(std::memory_order_acquire); }
  // Pairs the switch may deliver to: the leading pairs 0..n-1 whose RX and TX rings are both
  // started and enabled. Leading rather than "highest + 1": drivers enable pairs 0..n-1 (the
  // virtio MQ_VQ_PAIRS_SET command, Linux `ethtool -L combined n`, QEMU enabling pair 0 at
  // FEATURES_OK), so with a leading count every pair below it is usable and `q % count` never
  // lands on a disabled pair; a hole left by an odd front-end only shortens the count.
  uint16_t num_usable_queue_pairs() const { return usable_qps_.load(std::memory_order_acquire); }
  // Bumped whenever a ring starts, stops, or is enabled or disabled (poll threads re-read fds /
  // rebalance on change).
  uint32_t generation() const { return generation_.load(std::memory_order_acquire); }

  // --- control path: counters and state, readable while the datapath runs ---
  QueueStats queue_stats(uint16_t vq) const;
  std::vector<QueuePairStats> stats() const;
  // Some ring is broken by the driver now (it stays so until the front-end restarts it).
  bool has_ring_error() const;
  virtio::Features negotiated_features() const { return features_.load(std::memory_order_relaxed); }
  uint16_t mtu() const { return mtu_.load(std::memory_order_relaxed); }
  const std::string& name() const { return cfg_.name; }
  uint16_t num_virtqueues() const { return static_cast<uint16_t>(queues_.size()); }

 private:
  DeviceQueue* queue(uint16_t vq) { return vq < queues_.size() ? queues_[vq].get() : nullptr; }
  const DeviceQueue* queue(uint16_t vq) const { return vq < queues_.size() ? queues_[vq].get() : nullptr; }
  const MemoryTable* memory_table() const;
  // Control thread, after a ring started, stopped, was enabled or disabled: recomputes both
  // queue pair counts and bumps the generation.
  void update_queue_pair_counts();

  DeviceConfig cfg_;
  std::vector<std::unique_ptr<DeviceQueue>> queues_;  // 2 * queue_pairs, fixed after construction
  std::atomic<const GuestMemory*> memory_{nullptr};
  std::atomic<virtio::Features> features_{0};
  std::atomic<uint16_t> mtu_{0};
  std::atomic<uint16_t> started_qps_{0};
  std::atomic<uint16_t> usable_qps_{0};
  std::atomic<uint32_t> generation_{0};
  std::mutex control_mu_;  // serializes control calls (one vhost-user connection at a time)
};

}  // namespace vnet::device
