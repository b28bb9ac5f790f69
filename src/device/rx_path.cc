#include "device/rx_path.h"

#include <cstring>

#include "device/span_cursor.h"
#include "device/vlan_frame_reader.h"

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

Placed place_in_first_span(DeviceQueue& q, const virtio::Chain& c, const dataplane::TxItem& item) {
  const dataplane::Packet& p = *item.pkt;
  uint8_t* dst = c.writable()[0].data;
  virtio::NetHdr hdr = p.hdr;
  hdr.num_buffers = 1;
  if (q.hdr_len == 12) std::memcpy(dst, &hdr, 12);
  else std::memcpy(dst, &hdr, 10);
  std::memcpy(dst + q.hdr_len, p.spans[0].data + p.offset, p.len);
  RxScratch& s = *q.rx;
  s.used[s.pending++] = {c.head, q.hdr_len + p.len};
  q.counters.add_packet(p.len);
  return Placed::ok;
}

// Places one frame into the ring's buffers; its used entries go to s.used[s.pending ..].
Placed place_frame(DeviceQueue& q, const QueueContext& ctx, const MemoryTable& mem, const dataplane::TxItem& item) {
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
  if (fits_first_span(q, s.first, item)) return place_in_first_span(q, s.first, item);

  // General case: VLAN edit, scattered source or destination, several mergeable buffers.
  VlanFrameReader frame(*item.pkt, item.edit, item.vid);
  virtio::VringUsedElem* used = &s.used[s.pending];
  SpanCursor dst(s.first.writable(), s.first.nwritable, 0);
  dst.skip(q.hdr_len);
  used[0] = {s.first.head, q.hdr_len + frame.copy_to(dst)};
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
    used[nbufs++] = {s.next.head, frame.copy_to(more)};
  }

  // The header goes in last, when num_buffers is known. Offload fields pass through as the
  // source gave them.
  virtio::NetHdr hdr = item.pkt->hdr;
  hdr.num_buffers = nbufs;  // 1 without MRG_RXBUF (VIRTIO 1.x requires it then too)
  SpanCursor hdr_dst(s.first.writable(), s.first.nwritable, 0);
  hdr_dst.write(&hdr, q.hdr_len);

  s.pending = static_cast<uint16_t>(s.pending + nbufs);
  q.counters.add_packet(frame.out_len());
  return Placed::ok;
}

}  // namespace

void rx_deliver(DeviceQueue& q, const QueueContext& ctx, const MemoryTable& mem, const dataplane::TxItem* items,
                uint16_t n) {
  q.rx->published = false;
  for (uint16_t i = 0; i < n; ++i) {
    if (place_frame(q, ctx, mem, items[i]) == Placed::ring_broken) {
      // The rest of the burst cannot be delivered either.
      q.counters.add_drop(DropReason::no_rx_buffer, n - i);
      break;
    }
    if (q.rx->pending >= kUsedFlushBatch) flush_used(q);
  }
  flush_used(q);
  q.counters.add_poll(q.rx->published);
  if (q.rx->published) publish_and_notify(q);
}

}  // namespace vnet::device
