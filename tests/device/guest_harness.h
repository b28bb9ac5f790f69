// A fake guest for device tests and benchmarks: one memfd is the guest's memory (GPA 0 =
// offset 0) holding, per virtqueue, a split ring, indirect tables and a slot of buffer space
// per descriptor head. The guest side is driven by virtio::SplitRingDriver, i.e. through real
// rings; the device is wired the way the vhost-user back-end wires it (attach_memory,
// set_features, start_ring with kick and call eventfds).
#pragma once

#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/eventfd.h"
#include "base/memfd.h"
#include "device/virtio_net_device.h"
#include "mem/guest_memory.h"
#include "virtio/net_hdr.h"
#include "virtio/ring_layout.h"
#include "virtio/split_ring_driver.h"

namespace vnet::device::testing {

struct GuestOptions {
  uint16_t queue_pairs = 1;
  uint16_t qsize = 256;
  bool event_idx = true;
  bool indirect = true;
  bool mrg_rxbuf = true;
  bool version_1 = true;
  uint32_t slot_bytes = 72 * 1024;  // buffer space per head: a 64 KiB frame + header
  uint16_t indirect_max = 32;
  // Further features the guest negotiates (offloads: VIRTIO_NET_F_CSUM, GUEST_TSO4, ...).
  virtio::Features extra_features = 0;
};

class GuestHarness {
 public:
  struct Queue {
    uint8_t* ring = nullptr;  // host address of the ring block
    uint64_t ring_gpa = 0;
    virtio::ContiguousLayout layout{};
    uint64_t indirect_gpa = 0;
    uint64_t slots_gpa = 0;
    std::unique_ptr<virtio::SplitRingDriver> drv;
    std::vector<uint16_t> free_slots;
    UniqueFd kick, call, err;  // err: SET_VRING_ERR's eventfd
    uint64_t kicks_sent = 0;
  };

  explicit GuestHarness(GuestOptions o) : opt_(o), mem_(MemfdMapping::create("guest", total_bytes(o)).value()) {
    std::vector<MemoryRegion> r{{0, 0x7f0000000000, mem_.size(), 0, mem_.data(), Mapping::borrow(mem_.data(), mem_.size())}};
    memory_.replace(MemoryTable::from_regions(std::move(r)).value());
    const size_t per = per_queue_bytes(o);
    queues_.resize(2u * o.queue_pairs);
    for (size_t i = 0; i < queues_.size(); ++i) {
      Queue& q = queues_[i];
      const uint64_t base = i * per;
      q.layout = virtio::contiguous_layout(o.qsize);
      q.ring_gpa = base;
      q.ring = mem_.data() + base;
      q.indirect_gpa = base + virtio::align_up(q.layout.total, 4096);
      q.slots_gpa = q.indirect_gpa + virtio::align_up(size_t{o.qsize} * o.indirect_max * 16, 4096);
      virtio::DriverRingConfig c;
      c.size = o.qsize;
      c.desc = q.ring + q.layout.desc_off;
      c.avail = q.ring + q.layout.avail_off;
      c.used = q.ring + q.layout.used_off;
      c.event_idx = o.event_idx;
      if (o.indirect) {
        c.indirect = mem_.data() + q.indirect_gpa;
        c.indirect_gpa = q.indirect_gpa;
        c.indirect_max = o.indirect_max;
      }
      q.drv = std::make_unique<virtio::SplitRingDriver>(c);
      for (uint16_t s = o.qsize; s-- > 0;) q.free_slots.push_back(s);
      q.kick = make_eventfd().value();
      q.call = make_eventfd().value();
      q.err = make_eventfd().value();
    }
  }
  ~GuestHarness() { memory_.replace(nullptr); }

  virtio::Features features() const {
    virtio::Features f = opt_.extra_features;
    if (opt_.version_1) f |= virtio::bit(virtio::kFVersion1);
    if (opt_.event_idx) f |= virtio::bit(virtio::kFRingEventIdx);
    if (opt_.indirect) f |= virtio::bit(virtio::kFRingIndirectDesc);
    if (opt_.mrg_rxbuf) f |= virtio::bit(virtio::kNetFMrgRxbuf);
    return f;
  }
  uint32_t hdr_len() const { return virtio::net_hdr_size(features()); }

  vhost_user::VringSetup setup(uint16_t vq) const {
    const Queue& q = queues_[vq];
    vhost_user::VringSetup s;
    s.index = vq;
    s.size = opt_.qsize;
    s.desc = q.ring + q.layout.desc_off;
    s.avail = q.ring + q.layout.avail_off;
    s.used = q.ring + q.layout.used_off;
    s.last_avail_idx = 0;
    s.kick_fd = q.kick.get();
    s.call_fd = q.call.get();
    s.err_fd = q.err.get();
    s.enabled = true;
    return s;
  }

  // What the vhost-user back-end does once every ring is configured.
  void attach(VirtioNetDevice& dev) {
    dev.attach_memory(&memory_);
    dev.set_features(features());
    for (uint16_t vq = 0; vq < queues_.size(); ++vq) dev.start_ring(setup(vq));
  }

  // --- guest TX ---
  // Sends hdr + frame as one chain whose readable segments have the lengths in `segs` (the
  // last segment takes whatever is left; empty: one segment). Returns false if the ring is full.
  bool send(uint16_t qp, std::span<const uint8_t> frame, std::span<const uint32_t> segs = {},
            const virtio::NetHdr& hdr = {}) {
    Queue& q = queues_[tx_vq(qp)];
    if (q.free_slots.empty()) return false;
    const uint32_t total = hdr_len() + static_cast<uint32_t>(frame.size());
    if (total > opt_.slot_bytes) return false;
    const uint16_t slot = q.free_slots.back();
    uint8_t* buf = slot_ptr(q, slot);
    std::memcpy(buf, &hdr, hdr_len());
    std::memcpy(buf + hdr_len(), frame.data(), frame.size());
    std::vector<virtio::Segment> out;
    uint32_t off = 0;
    for (uint32_t len : segs) {
      if (off + len >= total) break;
      out.push_back({slot_gpa(q, slot) + off, len});
      off += len;
    }
    out.push_back({slot_gpa(q, slot) + off, total - off});
    if (q.drv->add(out, {}, token(slot)) != virtio::AddStatus::ok) return false;
    q.free_slots.pop_back();
    kick_if_needed(q);
    return true;
  }
  // Reclaims completed TX chains; returns how many.
  int reap_tx(uint16_t qp) {
    Queue& q = queues_[tx_vq(qp)];
    int n = 0;
    while (auto b = q.drv->get_buf()) {
      q.free_slots.push_back(slot_of(b->token));
      ++n;
    }
    return n;
  }

  // --- guest RX ---
  // Posts `count` receive buffers of `bytes` each (split into `nsegs` writable segments).
  int post_rx(uint16_t qp, int count, uint32_t bytes, uint32_t nsegs = 1) {
    Queue& q = queues_[rx_vq(qp)];
    int posted = 0;
    for (; posted < count && !q.free_slots.empty(); ++posted) {
      const uint16_t slot = q.free_slots.back();
      std::vector<virtio::Segment> in;
      const uint32_t seg = bytes / nsegs;
      for (uint32_t k = 0; k < nsegs; ++k)
        in.push_back({slot_gpa(q, slot) + k * seg, k + 1 == nsegs ? bytes - k * seg : seg});
      if (q.drv->add({}, in, token(slot)) != virtio::AddStatus::ok) break;
      q.free_slots.pop_back();
    }
    kick_if_needed(q);
    return posted;
  }
  struct Received {
    virtio::NetHdr hdr{};
    std::vector<uint8_t> frame;
    uint16_t buffers = 0;
  };
  // Next received frame (gathering num_buffers buffers with MRG_RXBUF), if any. Sets
  // `error` if the device wrote something inconsistent.
  std::optional<Received> receive(uint16_t qp, std::string* error = nullptr) {
    Queue& q = queues_[rx_vq(qp)];
    auto b = q.drv->get_buf();
    if (!b) return std::nullopt;
    Received r;
    const uint16_t slot = slot_of(b->token);
    const uint8_t* p = slot_ptr(q, slot);
    if (b->len < hdr_len() || b->len_error) {
      if (error) *error = "used len " + std::to_string(b->len) + " invalid";
      q.free_slots.push_back(slot);
      return r;
    }
    std::memcpy(&r.hdr, p, hdr_len());
    r.frame.assign(p + hdr_len(), p + b->len);
    q.free_slots.push_back(slot);
    r.buffers = 1;
    const uint16_t want = opt_.mrg_rxbuf ? r.hdr.num_buffers : 1;
    while (r.buffers < want) {
      auto more = q.drv->get_buf();
      if (!more) {
        if (error) *error = "num_buffers " + std::to_string(want) + " but only " + std::to_string(r.buffers) + " used";
        return r;
      }
      const uint16_t s2 = slot_of(more->token);
      const uint8_t* p2 = slot_ptr(q, s2);
      r.frame.insert(r.frame.end(), p2, p2 + more->len);
      q.free_slots.push_back(s2);
      ++r.buffers;
    }
    return r;
  }

  // --- access for tests that write malformed rings or check notifications ---
  Queue& queue(uint16_t vq) { return queues_[vq]; }
  uint8_t* mem() const { return mem_.data(); }
  int mem_fd() const { return mem_.fd(); }
  size_t mem_size() const { return mem_.size(); }
  uint16_t num_vqs() const { return static_cast<uint16_t>(queues_.size()); }
  GuestMemory& memory() { return memory_; }
  uint64_t calls(uint16_t vq) { return eventfd_drain(queues_[vq].call.get()); }
  uint8_t* slot_ptr(Queue& q, uint16_t slot) const { return mem_.data() + slot_gpa(q, slot); }
  uint64_t slot_gpa(const Queue& q, uint16_t slot) const { return q.slots_gpa + uint64_t{slot} * opt_.slot_bytes; }
  const GuestOptions& options() const { return opt_; }

 private:
  static size_t per_queue_bytes(const GuestOptions& o) {
    return virtio::align_up(virtio::contiguous_layout(o.qsize).total, 4096) +
           virtio::align_up(size_t{o.qsize} * o.indirect_max * 16, 4096) + size_t{o.qsize} * o.slot_bytes;
  }
  static size_t total_bytes(const GuestOptions& o) { return 2u * o.queue_pairs * per_queue_bytes(o); }
  static void* token(uint16_t slot) { return reinterpret_cast<void*>(uintptr_t{slot} + 1); }
  static uint16_t slot_of(void* t) { return static_cast<uint16_t>(reinterpret_cast<uintptr_t>(t) - 1); }
  void kick_if_needed(Queue& q) {
    if (q.drv->kick_prepare()) {
      eventfd_signal(q.kick.get());
      ++q.kicks_sent;
    }
  }

  GuestOptions opt_;
  MemfdMapping mem_;
  GuestMemory memory_;
  std::vector<Queue> queues_;
};

// Moves one burst from `from`'s TX ring to `to`'s RX ring the way a poll thread does with a
// bridge in between; `edit`/`vid` are applied to every packet. Returns packets moved.
inline uint16_t forward_burst(VirtioNetDevice& from, VirtioNetDevice& to, uint16_t qp = 0,
                              dataplane::VlanEdit edit = dataplane::VlanEdit::none, uint16_t vid = 0) {
  dataplane::Packet pkts[dataplane::kBurstSize];
  dataplane::TxItem items[dataplane::kBurstSize];
  const uint16_t n = from.tx_receive(qp, pkts, dataplane::kBurstSize);
  for (uint16_t i = 0; i < n; ++i) items[i] = {&pkts[i], edit, vid};
  to.rx_transmit(qp, items, n);
  from.tx_done(qp);
  return n;
}

}  // namespace vnet::device::testing
