#include "device/rx_path.h"

#include <cstring>

#include "device/span_cursor.h"
#include "device/vlan_frame_reader.h"
#include "offload/checksum.h"
#include "offload/feature_needs.h"
#include "offload/segmenter.h"

namespace vnet::device {
namespace {

enum class Placed { ok, dropped, ring_broken };

// Pushes the shadow used entries to the ring (not yet visible to the driver).
void flush_used(DeviceQueue& q) {
  RxScratch& s = *q.rx;
  if (s.pending == 0) return;
  q.ring.push_used_batch(s.used.data(), s.pending);
  q.ring.publish_used();
  s.pending = 0;
  s.published = true;
}

// Gives back the chains popped for a frame that is not delivered: the driver sees nothing
// (vhost_discard_vq_desc). Bytes already copied into them are simply overwritten later.
Placed give_back(DeviceQueue& q, uint16_t popped, DropReason why) {
  q.ring.unpop(popped);
  q.counters.add_drop(why);
  return Placed::dropped;
}

// Common case: no VLAN edit, the frame in one source span, header + frame fit the first
// writable span of the chain. One memcpy for the frame, fixed-size stores for the header.
bool fits_first_span(const DeviceQueue& q, const virtio::Chain& c, const dataplane::TxItem& item) {
  const dataplane::Packet& p = *item.pkt;
  return item.edit == dataplane::VlanEdit::none && p.nspans != 0 &&
         uint64_t{p.offset} + p.len <= p.spans[0].len && uint64_t{q.hdr_len} + p.len <= c.writable()[0].len;
}

Placed place_in_first_span(DeviceQueue& q, const virtio::Chain& c, const dataplane::TxItem& item,
                           const virtio::NetHdr& out_hdr, const offload::ChecksumPatch* patch) {
  const dataplane::Packet& p = *item.pkt;
  uint8_t* dst = c.writable()[0].data;
  virtio::NetHdr hdr = out_hdr;
  hdr.num_buffers = 1;
  if (q.hdr_len == 12) std::memcpy(dst, &hdr, 12);
  else std::memcpy(dst, &hdr, 10);
  std::memcpy(dst + q.hdr_len, p.spans[0].data + p.offset, p.len);
  if (patch) offload::apply_patch(*patch, 0, dst + q.hdr_len, p.len);
  RxScratch& s = *q.rx;
  s.used[s.pending++] = {c.head, q.hdr_len + p.len};
  q.counters.add_packet(p.len);
  return Placed::ok;
}

// Writes the checksum patch bytes (destination frame positions) that fall in the `n` frame bytes
// just copied to chain `c` starting at frame position `pos`, `skip` bytes into its writable part.
void patch_copied(const offload::ChecksumPatch* patch, uint32_t pos, uint32_t n, const virtio::Chain& c,
                  uint32_t skip) {
  if (!patch) return;
  for (uint32_t i = 0; i < 2; ++i) {
    const uint32_t at = patch->offset + i;
    if (at < pos || at - pos >= n) continue;
    SpanCursor w(c.writable(), c.nwritable, 0);
    w.skip(skip + (at - pos));
    w.write(&patch->bytes[i], 1);
  }
}

// Places one frame into the ring's buffers with header `out_hdr` (num_buffers filled in here)
// and, if given, the checksum patch written on the way; its used entries go to
// s.used[s.pending ..].
Placed place_frame(DeviceQueue& q, const QueueContext& ctx, const MemoryTable& mem, const dataplane::TxItem& item,
                   const virtio::NetHdr& out_hdr, const offload::ChecksumPatch* patch) {
  RxScratch& s = *q.rx;

  // First buffer: header space, then as much of the frame as fits. A chain that cannot be an
  // RX buffer (readable descriptors, no room for the header) is returned to the driver with
  // used len 0 and the next one is tried: the guest drops and refills it, the queue goes on.
  for (;;) {
    switch (q.ring.pop(mem, s.first)) {
      case virtio::PopStatus::chain: break;
      case virtio::PopStatus::empty: q.counters.add_drop(DropReason::no_rx_buffer); return Placed::dropped;
      case virtio::PopStatus::broken: report_ring_error(q, ctx); return Placed::ring_broken;
    }
    if (s.first.nreadable == 0 && s.first.writable_bytes >= q.hdr_len) break;
    q.counters.add_drop(DropReason::bad_chain);
    s.used[s.pending++] = {s.first.head, 0};
    if (s.pending >= kUsedFlushBatch) flush_used(q);
  }
  if (fits_first_span(q, s.first, item)) return place_in_first_span(q, s.first, item, out_hdr, patch);

  // General case: VLAN edit, scattered source or destination, several mergeable buffers.
  VlanFrameReader frame(*item.pkt, item.edit, item.vid);
  virtio::VringUsedElem* used = &s.used[s.pending];
  SpanCursor dst(s.first.writable(), s.first.nwritable, 0);
  dst.skip(q.hdr_len);
  uint32_t copied = frame.copy_to(dst);
  patch_copied(patch, 0, copied, s.first, q.hdr_len);
  used[0] = {s.first.head, q.hdr_len + copied};
  uint32_t pos = copied;
  uint16_t nbufs = 1;

  // Further buffers, only with mergeable RX buffers.
  while (!frame.done()) {
    if (!q.mrg_rxbuf || nbufs == kMaxRxChainsPerPacket || frame.source_short())
      return give_back(q, nbufs, DropReason::too_big);
    switch (q.ring.pop(mem, s.next)) {
      case virtio::PopStatus::chain: break;
      case virtio::PopStatus::empty: return give_back(q, nbufs, DropReason::no_rx_buffer);
      case virtio::PopStatus::broken:
        q.ring.unpop(nbufs);
        report_ring_error(q, ctx);
        return Placed::ring_broken;
    }
    if (s.next.nreadable != 0) return give_back(q, nbufs + 1, DropReason::bad_chain);
    SpanCursor more(s.next.writable(), s.next.nwritable, 0);
    copied = frame.copy_to(more);
    patch_copied(patch, pos, copied, s.next, 0);
    pos += copied;
    used[nbufs++] = {s.next.head, copied};
  }

  // The header goes in last, when num_buffers is known.
  virtio::NetHdr hdr = out_hdr;
  hdr.num_buffers = nbufs;  // 1 without MRG_RXBUF (VIRTIO 1.x requires it then too)
  SpanCursor hdr_dst(s.first.writable(), s.first.nwritable, 0);
  hdr_dst.write(&hdr, q.hdr_len);

  s.pending = static_cast<uint16_t>(s.pending + nbufs);
  q.counters.add_packet(frame.out_len());
  return Placed::ok;
}

// Which IP version the frame carries (after at most one 802.1Q tag), from the switch's copy of
// its first bytes: only needed to tell GUEST_USO4 from GUEST_USO6.
offload::L3 l3_of(const dataplane::Packet& p) {
  uint32_t at = 12;
  if (p.eth[12] == 0x81 && p.eth[13] == 0x00) at = 16;
  const uint16_t type = static_cast<uint16_t>((p.eth[at] << 8) | p.eth[at + 1]);
  if (type == 0x0800) return offload::L3::ipv4;
  if (type == 0x86dd) return offload::L3::ipv6;
  return offload::L3::none;
}

// Frame positions move by the tag a VLAN edit inserts or removes after the MAC addresses
// (VlanFrameReader's rules): returns the destination position of source position `at`, or
// -1 for a byte the pop removes.
int64_t vlan_moved(const dataplane::TxItem& item, uint32_t at) {
  const dataplane::Packet& p = *item.pkt;
  constexpr uint32_t kMacs = 12, kTag = 4;
  if (item.edit == dataplane::VlanEdit::push && p.len >= kMacs && at >= kMacs) return int64_t{at} + kTag;
  if (item.edit == dataplane::VlanEdit::pop && p.len >= kMacs + kTag && at >= kMacs) {
    return at >= kMacs + kTag ? int64_t{at} - kTag : -1;
  }
  return at;
}

// A header passed through keeps pointing at the same bytes after a VLAN edit.
void shift_for_vlan(const dataplane::TxItem& item, virtio::NetHdr& h) {
  if (item.edit == dataplane::VlanEdit::none) return;
  if (h.flags & virtio::kNetHdrFNeedsCsum) {
    const int64_t cs = vlan_moved(item, h.csum_start);
    if (cs >= 0) h.csum_start = static_cast<uint16_t>(cs);
  }
  if (h.gso_type != virtio::kNetHdrGsoNone && h.hdr_len != 0) {
    const int64_t hl = vlan_moved(item, h.hdr_len);
    if (hl >= 0) h.hdr_len = static_cast<uint16_t>(hl);
  }
}

Placed drop_bad_offload(DeviceQueue& q) {
  q.counters.add_drop(DropReason::bad_offload);
  return Placed::dropped;
}

// Software GSO for this destination only: every segment is a complete frame delivered with
// an all-zero header, built in the queue's segment buffer (no allocation).
Placed deliver_segments(DeviceQueue& q, const QueueContext& ctx, const MemoryTable& mem,
                        const dataplane::TxItem& item) {
  RxScratch& s = *q.rx;
  offload::Segmenter& sg = s.segmenter;
  if (sg.start(item.pkt->hdr, offload::view_of(*item.pkt)) != offload::Verdict::ok ||
      sg.max_segment_size() > kSegmentBufferBytes)
    return drop_bad_offload(q);
  HostSpan span{};
  dataplane::Packet seg{};
  seg.spans = &span;
  seg.nspans = 1;
  seg.tagged = item.pkt->tagged;
  const dataplane::TxItem seg_item{&seg, item.edit, item.vid};
  const virtio::NetHdr zero{};
  uint32_t placed = 0;
  while (!sg.done()) {
    const uint32_t len = sg.next(s.segment.get(), kSegmentBufferBytes);
    if (len == 0) return drop_bad_offload(q);
    span = HostSpan{s.segment.get(), len};
    seg.len = len;
    const Placed r = place_frame(q, ctx, mem, seg_item, zero, nullptr);
    if (r == Placed::ring_broken) return r;
    if (r == Placed::dropped) {
      // The guest is out of (large enough) buffers: the rest would fail the same way, so
      // they are counted without being built.
      q.counters.add_drop(DropReason::no_rx_buffer, sg.segment_count() - placed - 1);
      break;
    }
    ++placed;
    if (s.pending >= kUsedFlushBatch) flush_used(q);
  }
  if (placed == 0) return Placed::dropped;
  q.counters.add_sw_gso(placed);
  return Placed::ok;
}

// A packet whose header asks for offload work (validated by its source): the header passes
// through if this destination negotiated what it needs, else the work is done here.
Placed place_offload_frame(DeviceQueue& q, const QueueContext& ctx, const MemoryTable& mem,
                           const dataplane::TxItem& item) {
  const dataplane::Packet& p = *item.pkt;
  const offload::SoftwareWork work = offload::needs_software(p.hdr, q.features, l3_of(p));
  switch (work) {
    case offload::SoftwareWork::none: {
      virtio::NetHdr h = offload::header_for_destination(p.hdr, work, q.features);
      shift_for_vlan(item, h);
      return place_frame(q, ctx, mem, item, h, nullptr);
    }
    case offload::SoftwareWork::checksum: {
      auto patch = offload::compute_checksum_patch(p.hdr, offload::view_of(p));
      if (!patch) return drop_bad_offload(q);
      const int64_t at = vlan_moved(item, patch->offset);
      if (at < 0) return drop_bad_offload(q);  // the checksum field would be in a popped tag
      patch->offset = static_cast<uint32_t>(at);
      const Placed r = place_frame(q, ctx, mem, item, virtio::NetHdr{}, &*patch);
      if (r == Placed::ok) q.counters.add_sw_checksum();
      return r;
    }
    case offload::SoftwareWork::segment: return deliver_segments(q, ctx, mem, item);
  }
  return drop_bad_offload(q);
}

}  // namespace

void rx_deliver(DeviceQueue& q, const QueueContext& ctx, const MemoryTable& mem, const dataplane::TxItem* items,
                uint16_t n) {
  q.rx->published = false;
  for (uint16_t i = 0; i < n; ++i) {
    const dataplane::Packet& p = *items[i].pkt;
    // One branch keeps the common all-zero header off the offload code.
    const Placed r = (p.hdr.flags | p.hdr.gso_type) == 0 ? place_frame(q, ctx, mem, items[i], p.hdr, nullptr)
                                                        : place_offload_frame(q, ctx, mem, items[i]);
    if (r == Placed::ring_broken) {
      // This frame and the rest of the burst cannot be delivered either.
      q.counters.add_drop(DropReason::ring_broken, n - i);
      break;
    }
    if (q.rx->pending >= kUsedFlushBatch) flush_used(q);
  }
  flush_used(q);
  q.counters.add_poll(q.rx->published);
  if (q.rx->published) publish_and_notify(q);
}

}  // namespace vnet::device
