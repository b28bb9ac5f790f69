#include "device/virtio_net_device.h"

#include <fcntl.h>

#include <algorithm>
#include <cstring>

#include "base/eventfd.h"
#include "base/log.h"
#include "device/rx_path.h"
#include "device/tx_path.h"

namespace vnet::device {

VirtioNetDevice::VirtioNetDevice(DeviceConfig cfg) : cfg_(std::move(cfg)) {
  cfg_.queue_pairs = std::clamp<uint16_t>(cfg_.queue_pairs, 1, kMaxQueuePairs);
  if (!cfg_.offloads) cfg_.features &= ~kOffloadFeatures;
  queues_.resize(2u * cfg_.queue_pairs);
  for (uint16_t vq = 0; vq < queues_.size(); ++vq) {
    auto q = std::make_unique<DeviceQueue>();
    if (is_tx_queue(vq)) q->tx = std::make_unique<TxScratch>();
    else q->rx = std::make_unique<RxScratch>();
    queues_[vq] = std::move(q);
  }
}

VirtioNetDevice::~VirtioNetDevice() = default;

// ---------------------------------------------------------------------------------------------
// Control path (vhost-user thread)

void VirtioNetDevice::attach_memory(const GuestMemory* memory) { memory_.store(memory, std::memory_order_release); }

void VirtioNetDevice::set_features(virtio::Features negotiated) {
  // Rings keep the header size and EVENT_IDX mode they started with; a SET_FEATURES while
  // running (LOG_ALL toggling) must not disturb them.
  features_.store(negotiated & (cfg_.features | virtio::bit(virtio::kFLogAll) | virtio::bit(virtio::kFProtocolFeatures)),
                  std::memory_order_relaxed);
}

const MemoryTable* VirtioNetDevice::memory_table() const {
  const GuestMemory* m = memory_.load(std::memory_order_acquire);
  return m ? m->current() : nullptr;
}

void VirtioNetDevice::start_ring(const vhost_user::VringSetup& setup) {
  std::lock_guard control(control_mu_);
  DeviceQueue* q = queue(setup.index);
  if (!q) {
    log::warn("{}: start_ring: virtqueue {} does not exist ({} queue pairs)", cfg_.name, setup.index, cfg_.queue_pairs);
    return;
  }
  if (!virtio::is_valid_queue_size(setup.size) || !setup.desc || !setup.avail || !setup.used) {
    log::warn("{}: start_ring: virtqueue {} has size {} or unmapped areas; not started", cfg_.name, setup.index,
              setup.size);
    return;
  }
  // The kick eventfd is read before sleeping (tx_enable_notify); a blocking one would hang.
  if (setup.kick_fd >= 0) {
    const int fl = ::fcntl(setup.kick_fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK)) ::fcntl(setup.kick_fd, F_SETFL, fl | O_NONBLOCK);
  }
  const virtio::Features f = features_.load(std::memory_order_relaxed);

  virtio::DeviceRingConfig rc;
  rc.size = setup.size;
  rc.desc = setup.desc;
  rc.avail = setup.avail;
  rc.used = setup.used;
  rc.event_idx = virtio::has(f, virtio::kFRingEventIdx);
  // Chains past the frame limit are counted as too_long, not treated as ring errors, up to
  // this much larger bound (a larger "chain" is nonsense and breaks the ring).
  rc.max_chain_bytes = std::max<uint32_t>(1u << 20, cfg_.max_frame_len + 64);

  {
    std::lock_guard lock(q->lock);
    q->ring.set_last_avail(setup.last_avail_idx);
    q->ring.configure(rc);
    // used->idx is what we (or a previous back-end) last published: resume from there.
    q->ring.sync_used_idx_from_ring();
    q->hdr_len = virtio::net_hdr_size(f);
    q->mrg_rxbuf = virtio::has(f, virtio::kNetFMrgRxbuf);
    q->features = f;
    q->enabled = setup.enabled;
    q->call_fd = setup.call_fd;
    q->err_fd = setup.err_fd;
    q->error_reported = false;
    q->counters.clear_ring_error();
    if (q->tx) q->tx->npopped = 0;
    if (q->rx) {
      q->rx->pending = 0;
      // Nobody waits for RX kicks: the RX path never sleeps on a full guest, it drops.
      q->ring.disable_notify();
    } else {
      // TX kicks on until a poll thread starts polling, so that the ring in memory says what
      // the ring object believes (avail_event / flags may hold a previous run's values).
      (void)q->ring.enable_notify();
    }
    q->started = true;
    q->kick_fd.store(setup.kick_fd, std::memory_order_release);
  }
  update_queue_pair_counts();
}

uint16_t VirtioNetDevice::stop_ring(uint16_t index) {
  std::lock_guard control(control_mu_);
  DeviceQueue* q = queue(index);
  if (!q) return 0;
  uint16_t last_avail;
  {
    // Waits for a datapath burst in progress: when we hold the lock, every chain it popped is
    // completed (TX: tx_done ran; RX: the transmit call returned).
    std::lock_guard lock(q->lock);
    last_avail = q->ring.last_avail();
    q->started = false;
    q->call_fd = -1;
    q->err_fd = -1;
    q->kick_fd.store(-1, std::memory_order_release);
  }
  update_queue_pair_counts();
  return last_avail;
}

void VirtioNetDevice::enable_ring(uint16_t index, bool enabled) {
  std::lock_guard control(control_mu_);
  DeviceQueue* q = queue(index);
  if (!q) return;
  {
    std::lock_guard lock(q->lock);
    q->enabled = enabled;
  }
  // The usable count changes with it: the switch must stop (or start again) delivering to the
  // pair, and poll threads see it through generation().
  update_queue_pair_counts();
}

void VirtioNetDevice::set_call_fd(uint16_t index, int call_fd) {
  std::lock_guard control(control_mu_);
  DeviceQueue* q = queue(index);
  if (!q) return;
  // After this returns the old fd is never written again (the caller may close it).
  std::lock_guard lock(q->lock);
  q->call_fd = call_fd;
}

void VirtioNetDevice::set_mtu(uint16_t mtu) { mtu_.store(mtu, std::memory_order_relaxed); }

void VirtioNetDevice::send_rarp(const uint8_t mac[6]) {
  // After a migration the switches must learn where the guest's MAC went (as DPDK's vhost and
  // QEMU's own announce do): a broadcast RARP "reverse request" from that MAC, handed to the
  // switch with queue pair 0's next TX burst.
  DeviceQueue& q = *queues_[tx_vq(0)];
  std::lock_guard lock(q.lock);
  uint8_t* f = q.tx->rarp_frame.data();
  std::memset(f, 0, q.tx->rarp_frame.size());
  std::memset(f, 0xff, 6);                  // destination: broadcast
  std::memcpy(f + 6, mac, 6);               // source: the guest
  f[12] = 0x80, f[13] = 0x35;               // ethertype RARP
  f[14] = 0x00, f[15] = 0x01;               // hardware type Ethernet
  f[16] = 0x08, f[17] = 0x00;               // protocol type IPv4
  f[18] = 6, f[19] = 4;                     // address lengths
  f[20] = 0x00, f[21] = 0x03;               // opcode 3: reverse request
  std::memcpy(f + 22, mac, 6);              // sender hardware address (IP 0.0.0.0)
  std::memcpy(f + 32, mac, 6);              // target hardware address (IP 0.0.0.0)
  q.tx->rarp_pending = true;
  log::info("{}: SEND_RARP for {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} queued", cfg_.name, mac[0], mac[1], mac[2],
            mac[3], mac[4], mac[5]);
}

void VirtioNetDevice::reset() {
  std::lock_guard control(control_mu_);
  for (auto& q : queues_) {
    std::lock_guard lock(q->lock);
    q->started = false;
    q->enabled = false;
    q->call_fd = -1;
    if (q->tx) q->tx->rarp_pending = false;
    q->kick_fd.store(-1, std::memory_order_release);
  }
  features_.store(0, std::memory_order_relaxed);
  mtu_.store(0, std::memory_order_relaxed);
  memory_.store(nullptr, std::memory_order_release);
  update_queue_pair_counts();
}

void VirtioNetDevice::update_queue_pair_counts() {
  // `started` and `enabled` are written under each queue's lock by the control thread only, and
  // we are the control thread (control_mu_ held): reading them without the lock is safe.
  auto usable = [](const DeviceQueue& q) { return q.started && q.enabled; };
  uint16_t started = 0, leading_usable = 0;
  bool hole = false;
  for (uint16_t qp = 0; qp < cfg_.queue_pairs; ++qp) {
    const DeviceQueue& rx = *queues_[rx_vq(qp)];
    const DeviceQueue& tx = *queues_[tx_vq(qp)];
    if (rx.started || tx.started) started = static_cast<uint16_t>(qp + 1);
    if (usable(rx) && usable(tx) && !hole) leading_usable = static_cast<uint16_t>(qp + 1);
    else hole = true;
  }
  started_qps_.store(started, std::memory_order_release);
  usable_qps_.store(leading_usable, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

// ---------------------------------------------------------------------------------------------
// Datapath (poll threads)

uint16_t VirtioNetDevice::tx_receive(uint16_t qp, dataplane::Packet* out, uint16_t max) {
  DeviceQueue* q = qp < cfg_.queue_pairs ? queues_[tx_vq(qp)].get() : nullptr;
  if (!q || max == 0) return 0;
  q->lock.lock();
  // A started ring implies attached memory; its table stays valid until our next quiescent point.
  const MemoryTable* mem = q->started ? memory_table() : nullptr;
  if (!mem || q->ring.broken()) {
    q->lock.unlock();
    return 0;
  }
  const uint16_t n = tx_pop_burst(*q, QueueContext{cfg_.name.c_str(), tx_vq(qp)}, *mem, cfg_.max_frame_len, out, max);
  if (n == 0) {
    // Only drops (or nothing): complete now, nothing stays handed out.
    tx_complete_burst(*q);
    q->lock.unlock();
    return 0;
  }
  q->tx->burst_open = true;  // lock stays held until tx_done()
  return n;
}

void VirtioNetDevice::tx_done(uint16_t qp) {
  DeviceQueue* q = qp < cfg_.queue_pairs ? queues_[tx_vq(qp)].get() : nullptr;
  // burst_open is only ever true while this thread holds the lock.
  if (!q || !q->tx->burst_open) return;
  q->tx->burst_open = false;
  tx_complete_burst(*q);
  q->lock.unlock();
}

void VirtioNetDevice::rx_transmit(uint16_t qp, const dataplane::TxItem* items, uint16_t n) {
  DeviceQueue* q = qp < cfg_.queue_pairs ? queues_[rx_vq(qp)].get() : nullptr;
  if (!q || n == 0) return;
  std::lock_guard lock(q->lock);
  const MemoryTable* mem = q->started ? memory_table() : nullptr;
  if (!mem) {
    q->counters.add_drop(DropReason::not_started, n);
    return;
  }
  if (q->ring.broken()) {
    q->counters.add_drop(DropReason::ring_broken, n);
    return;
  }
  if (!q->enabled) {
    q->counters.add_drop(DropReason::disabled, n);
    return;
  }
  rx_deliver(*q, QueueContext{cfg_.name.c_str(), rx_vq(qp)}, *mem, items, n);
}

int VirtioNetDevice::tx_kick_fd(uint16_t qp) const {
  const DeviceQueue* q = qp < cfg_.queue_pairs ? queues_[tx_vq(qp)].get() : nullptr;
  return q ? q->kick_fd.load(std::memory_order_acquire) : -1;
}

bool VirtioNetDevice::tx_enable_notify(uint16_t qp) {
  DeviceQueue* q = qp < cfg_.queue_pairs ? queues_[tx_vq(qp)].get() : nullptr;
  if (!q) return false;
  std::lock_guard lock(q->lock);
  if (!q->started) return false;
  // Drain first: a kick sent after this read stays pending and wakes the sleeper.
  const int kfd = q->kick_fd.load(std::memory_order_relaxed);
  if (kfd >= 0) q->counters.add_kicks(eventfd_drain(kfd));
  if (q->ring.broken()) return false;  // nothing to do until restarted: sleep
  return q->ring.enable_notify();
}

void VirtioNetDevice::tx_disable_notify(uint16_t qp) {
  DeviceQueue* q = qp < cfg_.queue_pairs ? queues_[tx_vq(qp)].get() : nullptr;
  if (!q) return;
  std::lock_guard lock(q->lock);
  if (q->started) q->ring.disable_notify();
}

// ---------------------------------------------------------------------------------------------
// Counters

QueueStats VirtioNetDevice::queue_stats(uint16_t vq) const {
  const DeviceQueue* q = queue(vq);
  return q ? q->counters.snapshot() : QueueStats{};
}

std::vector<QueuePairStats> VirtioNetDevice::stats() const {
  std::vector<QueuePairStats> v(cfg_.queue_pairs);
  for (uint16_t qp = 0; qp < cfg_.queue_pairs; ++qp) {
    v[qp].rx = queues_[rx_vq(qp)]->counters.snapshot();
    v[qp].tx = queues_[tx_vq(qp)]->counters.snapshot();
  }
  return v;
}

bool VirtioNetDevice::has_ring_error() const {
  for (const auto& q : queues_) {
    if (q->counters.snapshot().last_ring_error != virtio::RingError::none) return true;
  }
  return false;
}

}  // namespace vnet::device
