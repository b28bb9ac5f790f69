// An in-process virtio-net device for driver tests: implements the driver's BackendLink (the
// vhost-user requests), maps the driver's memfd like a real back-end does (its own mmap of the
// fd, rings found through the front-end VAs) and drives the rings with virtio::SplitRingDevice.
// Tests call the device-side helpers to deliver frames, take sent frames, or write malformed
// used entries on purpose.
//
// Single-threaded by default: the test interleaves driver and device calls. A test that runs
// the device on its own thread must not call the driver-facing link at the same time (the
// driver only uses it in start/stop).
#pragma once

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/eventfd.h"
#include "base/fd.h"
#include "driver/backend_link.h"
#include "mem/guest_memory.h"
#include "virtio/features.h"
#include "virtio/net_hdr.h"
#include "virtio/split_ring_device.h"

namespace vnet::driver::testing {

using virtio::bit;

inline constexpr virtio::Features kAllNetFeatures =
    bit(virtio::kFVersion1) | bit(virtio::kNetFMrgRxbuf) | bit(virtio::kFRingEventIdx) |
    bit(virtio::kFRingIndirectDesc) | bit(virtio::kNetFMq) | bit(virtio::kNetFMtu) | bit(virtio::kNetFCsum) |
    bit(virtio::kNetFGuestCsum) | bit(virtio::kNetFHostTso4) | bit(virtio::kNetFHostTso6) |
    bit(virtio::kFProtocolFeatures);
inline constexpr uint64_t kAllProtocol = (1u << kProtoMq) | (1u << kProtoReplyAck) | (1u << kProtoMtu);

struct Vring {
  uint32_t num = 0, base = 0;
  uint64_t desc = 0, used = 0, avail = 0;
  UniqueFd kick, call;
  bool enabled = false;
  bool stopped = false;
  virtio::SplitRingDevice dev;
  bool configured = false;
};

class DeviceHarness {
 public:
  virtio::Features offered = kAllNetFeatures;
  uint64_t offered_protocol = kAllProtocol;
  uint64_t queue_num = 8;

  // What the driver asked for.
  virtio::Features negotiated = 0;
  uint64_t protocol = 0;
  bool owner = false;
  int mtu = -1;
  std::vector<std::string> log;
  std::shared_ptr<const MemoryTable> table;
  std::map<uint32_t, Vring> vrings;

  uint32_t hdr_len() const { return virtio::net_hdr_size(negotiated); }
  bool mergeable() const { return virtio::has(negotiated, virtio::kNetFMrgRxbuf); }

  // The ring of vring v, configured on first use from what SET_VRING_* carried.
  virtio::SplitRingDevice& ring(uint32_t v) {
    Vring& r = vrings.at(v);
    if (!r.configured) {
      virtio::DeviceRingConfig c;
      c.size = static_cast<uint16_t>(r.num);
      c.desc = table->va_to_host(r.desc, virtio::desc_area_size(r.num));
      c.avail = table->va_to_host(r.avail, virtio::avail_area_size(r.num));
      c.used = table->va_to_host(r.used, virtio::used_area_size(r.num));
      c.event_idx = virtio::has(negotiated, virtio::kFRingEventIdx);
      if (!c.desc || !c.avail || !c.used) throw std::runtime_error("ring addresses not in the memory table");
      r.dev.set_last_avail(static_cast<uint16_t>(r.base));
      r.dev.configure(c);
      r.dev.sync_used_idx_from_ring();
      r.configured = true;
    }
    return r.dev;
  }

  // Publishes and interrupts the driver if it asked for it. Returns true if signalled.
  bool publish(uint32_t v) {
    auto& d = ring(v);
    d.publish_used();
    if (d.need_notify()) {
      eventfd_signal(vrings.at(v).call.get());
      ++interrupts;
      return true;
    }
    return false;
  }

  // Delivers a frame to RX of queue pair qp the way a device does (header + num_buffers, one
  // copy into as many buffers as needed). Returns the buffers used, 0 if the ring had too few.
  int deliver(uint16_t qp, const std::vector<uint8_t>& frame, virtio::NetHdr hdr = {}, bool do_publish = true) {
    const uint32_t v = 2u * qp;
    auto& d = ring(v);
    const uint32_t hl = hdr_len();
    const size_t total = hl + frame.size();
    std::vector<std::pair<uint16_t, uint32_t>> used;
    size_t off = 0;  // bytes of (hdr + frame) written so far
    uint8_t* first = nullptr;
    // Built by appending (not memcpy at an offset): GCC 12 -O2 warns falsely on the latter.
    const auto* hdr_bytes = reinterpret_cast<const uint8_t*>(&hdr);
    std::vector<uint8_t> all(hdr_bytes, hdr_bytes + std::min<size_t>(hl, sizeof hdr));
    all.insert(all.end(), frame.begin(), frame.end());
    while (off < total) {
      virtio::Chain c;
      if (d.pop(*table, c) != virtio::PopStatus::chain) {
        d.unpop(static_cast<uint16_t>(used.size()));
        return 0;
      }
      uint32_t wrote = 0;
      for (uint16_t s = 0; s < c.nwritable && off < total; ++s) {
        const HostSpan& sp = c.writable()[s];
        if (!first) first = sp.data;
        const size_t k = std::min<size_t>(sp.len, total - off);
        std::memcpy(sp.data, all.data() + off, k);
        off += k;
        wrote += static_cast<uint32_t>(k);
      }
      used.emplace_back(c.head, wrote);
      if (!mergeable() && off < total) {  // big mode: one buffer must hold it all
        d.unpop(static_cast<uint16_t>(used.size()));
        return 0;
      }
    }
    if (hl == sizeof(virtio::NetHdr)) {
      const uint16_t nb = static_cast<uint16_t>(used.size());
      std::memcpy(first + offsetof(virtio::NetHdr, num_buffers), &nb, 2);
    }
    for (auto [id, len] : used) d.push_used(id, len);
    if (do_publish) publish(v);
    return static_cast<int>(used.size());
  }

  struct SentFrame {
    virtio::NetHdr hdr{};
    std::vector<uint8_t> bytes;
    uint16_t head = 0;
  };
  // Takes up to max frames from TX of queue pair qp, completes them, interrupts if wanted.
  std::vector<SentFrame> take_tx(uint16_t qp, size_t max = SIZE_MAX, bool complete = true) {
    const uint32_t v = 2u * qp + 1;
    auto& d = ring(v);
    std::vector<SentFrame> out;
    const uint32_t hl = hdr_len();
    while (out.size() < max) {
      virtio::Chain c;
      if (d.pop(*table, c) != virtio::PopStatus::chain) break;
      std::vector<uint8_t> all;
      for (uint16_t s = 0; s < c.nreadable; ++s) all.insert(all.end(), c.readable()[s].data, c.readable()[s].data + c.readable()[s].len);
      SentFrame f;
      f.head = c.head;
      if (all.size() >= hl) {
        std::memcpy(&f.hdr, all.data(), hl);
        f.bytes.assign(all.begin() + hl, all.end());
      }
      out.push_back(std::move(f));
      if (complete) d.push_used(c.head, 0);
    }
    if (complete && !out.empty()) publish(v);
    return out;
  }

  // Pops one raw RX chain (for malformed used entries written by hand).
  bool pop_raw(uint32_t v, virtio::Chain& c) { return ring(v).pop(*table, c) == virtio::PopStatus::chain; }
  void push_raw(uint32_t v, uint32_t id, uint32_t len) {
    // Bypasses SplitRingDevice::push_used's 16-bit id to write any id.
    auto& d = ring(v);
    d.push_used(static_cast<uint16_t>(id), len);
    if (id > 0xffff) {
      auto* used = table->va_to_host(vrings.at(v).used, virtio::used_area_size(vrings.at(v).num));
      auto* e = reinterpret_cast<virtio::VringUsedElem*>(used + virtio::kUsedRingOff);
      e[static_cast<uint16_t>(d.used_idx() - 1) & (vrings.at(v).num - 1)].id = id;
    }
  }
  uint64_t kicks(uint32_t v) { return eventfd_drain(vrings.at(v).kick.get()); }

  uint64_t interrupts = 0;
};

// The BackendLink the driver owns; forwards to a harness the test keeps.
class HarnessLink final : public BackendLink {
 public:
  explicit HarnessLink(DeviceHarness& h) : h_(h) {}
  Result<uint64_t> get_features() override { return note("GET_FEATURES"), h_.offered; }
  Status set_features(uint64_t f) override {
    note("SET_FEATURES");
    if (f & ~h_.offered) return Error("feature not offered");
    h_.negotiated = f;
    return {};
  }
  Result<uint64_t> get_protocol_features() override { return note("GET_PROTOCOL_FEATURES"), h_.offered_protocol; }
  Status set_protocol_features(uint64_t f) override { return note("SET_PROTOCOL_FEATURES"), h_.protocol = f, Status{}; }
  Result<uint64_t> get_queue_num() override { return note("GET_QUEUE_NUM"), h_.queue_num; }
  Status set_owner() override { return note("SET_OWNER"), h_.owner = true, Status{}; }
  Status set_mem_table(std::span<const MemRegionDesc> regions) override {
    note("SET_MEM_TABLE");
    std::vector<RegionSpec> specs;
    for (auto& r : regions) specs.push_back(RegionSpec{r.fd, r.mmap_offset, r.memory_size, r.guest_phys_addr, r.userspace_addr});
    auto t = MemoryTable::map(specs);
    if (!t) return t.error();
    h_.table = t.value();
    return {};
  }
  Status net_set_mtu(uint16_t mtu) override { return note("NET_SET_MTU"), h_.mtu = mtu, Status{}; }
  Status set_vring_num(uint32_t i, uint32_t n) override { return note("SET_VRING_NUM"), h_.vrings[i].num = n, Status{}; }
  Status set_vring_base(uint32_t i, uint32_t b) override { return note("SET_VRING_BASE"), h_.vrings[i].base = b, Status{}; }
  Status set_vring_addr(uint32_t i, uint64_t d, uint64_t u, uint64_t a) override {
    note("SET_VRING_ADDR");
    auto& r = h_.vrings[i];
    r.desc = d, r.used = u, r.avail = a;
    return {};
  }
  Status set_vring_kick(uint32_t i, int fd) override { return note("SET_VRING_KICK"), h_.vrings[i].kick.reset(::dup(fd)), Status{}; }
  Status set_vring_call(uint32_t i, int fd) override { return note("SET_VRING_CALL"), h_.vrings[i].call.reset(::dup(fd)), Status{}; }
  Status set_vring_enable(uint32_t i, bool on) override { return note("SET_VRING_ENABLE"), h_.vrings[i].enabled = on, Status{}; }
  Result<uint32_t> get_vring_base(uint32_t i) override {
    note("GET_VRING_BASE");
    auto& r = h_.vrings.at(i);
    r.stopped = true;
    return uint32_t{r.configured ? r.dev.last_avail() : r.base};
  }

 private:
  void note(const char* what) { h_.log.emplace_back(what); }
  DeviceHarness& h_;
};

}  // namespace vnet::driver::testing
