#include "device/tx_path.h"

#include <algorithm>
#include <cstring>

#include "device/span_cursor.h"
#include "offload/feature_needs.h"
#include "offload/validate.h"

namespace vnet::device {
namespace {

constexpr uint32_t kEthHeaderLen = 14;

// Why a popped chain cannot be forwarded, or nullopt-like `count_` if it can.
DropReason classify(const virtio::Chain& c, uint32_t hdr_len, uint32_t max_frame_len) {
  if (c.nwritable != 0) return DropReason::bad_chain;  // a TX chain is device-readable only
  if (c.readable_bytes < hdr_len + kEthHeaderLen) return DropReason::short_frame;
  if (c.readable_bytes - hdr_len > max_frame_len) return DropReason::too_long;
  return DropReason::count_;
}

// The SEND_RARP announcement as a packet of this burst (sent once).
void rarp_to_packet(TxScratch& s, dataplane::Packet& pkt) {
  s.rarp_pending = false;
  s.rarp_span = HostSpan{s.rarp_frame.data(), static_cast<uint32_t>(s.rarp_frame.size())};
  pkt = dataplane::Packet{};
  pkt.spans = &s.rarp_span;
  pkt.nspans = 1;
  pkt.len = s.rarp_span.len;
  std::memcpy(pkt.eth, s.rarp_frame.data(), dataplane::kEthHeaderCopy);
}

// A frame whose header asks for offload work: the guest must have negotiated it and the header
// must describe the frame (offload::validate), or nobody downstream may trust it. DATA_VALID
// from a guest is meaningless (a driver MUST NOT set it, VIRTIO 1.2 5.1.6.2.1) and would let it
// tell other guests to skip checksum checks: it is cleared, not passed on.
bool offload_header_ok(dataplane::Packet& pkt, virtio::Features features) {
  pkt.hdr.flags &= static_cast<uint8_t>(~virtio::kNetHdrFDataValid);
  if ((pkt.hdr.flags | pkt.hdr.gso_type) == 0) return true;
  return offload::source_may_send(pkt.hdr, features) && offload::validate(pkt.hdr, offload::view_of(pkt)).ok();
}

}  // namespace

void chain_to_packet(const virtio::Chain& c, uint32_t hdr_len, dataplane::Packet& pkt) {
  pkt.hdr = {};
  pkt.len = c.readable_bytes - hdr_len;
  pkt.vlan = dataplane::kVlanNone;  // ingress classification is the bridge's job

  // The switch decides on a private copy of the first frame bytes: the guest may change its
  // buffer under us, and the bridge must see one consistent header.
  const HostSpan& first = c.spans[0];
  if (c.nreadable != 0 && first.len >= hdr_len + dataplane::kEthHeaderCopy) {
    // Common case (Linux puts the header in the frame's headroom): header and Ethernet header
    // in the first descriptor. Fixed-size copies the compiler turns into a few moves.
    if (hdr_len == 12) std::memcpy(&pkt.hdr, first.data, 12);
    else std::memcpy(&pkt.hdr, first.data, 10);
    std::memcpy(pkt.eth, first.data + hdr_len, dataplane::kEthHeaderCopy);
    pkt.spans = c.spans.data();
    pkt.nspans = c.nreadable;
    pkt.offset = hdr_len;
  } else {
    // Header and/or Ethernet header split across descriptors.
    SpanCursor cur(c.readable(), c.nreadable);
    cur.read(&pkt.hdr, hdr_len);
    pkt.spans = c.readable() + cur.index();
    pkt.nspans = static_cast<uint16_t>(c.nreadable - cur.index());
    pkt.offset = cur.offset();
    const uint32_t eth_len = std::min(pkt.len, dataplane::kEthHeaderCopy);
    cur.read(pkt.eth, eth_len);
    std::fill(pkt.eth + eth_len, pkt.eth + dataplane::kEthHeaderCopy, uint8_t{0});
  }
  pkt.hdr.num_buffers = 0;  // means nothing on TX
  pkt.tagged = pkt.len >= 18 && pkt.eth[12] == 0x81 && pkt.eth[13] == 0x00;
}

uint16_t tx_pop_burst(DeviceQueue& q, const QueueContext& ctx, const MemoryTable& mem, uint32_t max_frame_len,
                      dataplane::Packet* out, uint16_t max) {
  TxScratch& s = *q.tx;
  const uint16_t want = std::min<uint16_t>(max, kTxBurst);
  uint16_t npkts = 0;
  if (s.rarp_pending && max != 0) rarp_to_packet(s, out[npkts++]);

  while (s.npopped < want && npkts < max) {
    virtio::Chain& c = s.chains[s.npopped];
    const virtio::PopStatus st = q.ring.pop(mem, c);
    if (st == virtio::PopStatus::empty) break;
    if (st == virtio::PopStatus::broken) {
      report_ring_error(q, ctx);
      break;  // chains popped before the bad one are still completed normally
    }
    s.used[s.npopped++] = {c.head, 0};

    const DropReason drop = q.enabled ? classify(c, q.hdr_len, max_frame_len) : DropReason::disabled;
    if (drop != DropReason::count_) {
      q.counters.add_drop(drop);
      continue;
    }
    dataplane::Packet& pkt = out[npkts];
    chain_to_packet(c, q.hdr_len, pkt);
    // One branch for the common all-zero header.
    if ((pkt.hdr.flags | pkt.hdr.gso_type) != 0 && !offload_header_ok(pkt, q.features)) {
      q.counters.add_drop(DropReason::bad_offload);
      continue;
    }
    ++npkts;
    q.counters.add_packet(pkt.len);
  }
  q.counters.add_poll(s.npopped != 0);
  return npkts;
}

void tx_complete_burst(DeviceQueue& q) {
  TxScratch& s = *q.tx;
  if (s.npopped == 0) return;
  q.ring.push_used_batch(s.used.data(), s.npopped);
  s.npopped = 0;
  publish_and_notify(q);
}

}  // namespace vnet::device
