#include "driver/send_queue.h"

#include <poll.h>

#include <cstddef>
#include <cstring>

#include "base/eventfd.h"

namespace vnet::driver {

using virtio::NetHdr;

const char* to_string(TxStatus s) {
  switch (s) {
    case TxStatus::ok: return "ok";
    case TxStatus::ring_full: return "ring_full";
    case TxStatus::too_big: return "too_big";
    case TxStatus::bad_header: return "bad_header";
    case TxStatus::broken: return "broken";
  }
  return "?";
}

SendQueue::SendQueue(TxQueueSetup s)
    : ring_(s.ring),
      slots_(s.slots),
      slots_gpa_(s.slots_gpa),
      slot_size_(s.slot_size),
      hdr_len_(s.hdr_len),
      split_header_(s.split_header),
      features_(s.features),
      kick_(std::move(s.kick)),
      call_(std::move(s.call)),
      free_(s.ring.size),
      nfree_(s.ring.size) {
  for (uint16_t i = 0; i < s.ring.size; ++i) free_[i] = static_cast<uint16_t>(s.ring.size - 1 - i);
  // Like virtio_net without napi_tx: completions are reaped from the send path, interrupts are
  // only wanted while the queue is stopped (wait_space).
  ring_.disable_cb();
}

uint32_t SendQueue::reclaim() {
  uint32_t n = 0;
  while (auto u = ring_.get_buf()) {
    free_[nfree_++] = slot_of(u->token);
    if (u->len_error) stats_.len_errors.add();
    ++n;
  }
  if (ring_.broken() && !ring_error_counted_) {
    ring_error_counted_ = true;
    stats_.ring_errors.add();
  }
  if (n) stats_.completions.add(n);
  return n;
}

std::span<uint8_t> SendQueue::reserve() {
  // A frame takes one slot and one ring entry (indirect table or a single descriptor).
  if (nfree_ == 0 || ring_.num_free() == 0) reclaim();
  if (nfree_ == 0 || ring_.num_free() == 0 || ring_.broken()) {
    if (!stopped_) {
      stopped_ = true;
      stats_.ring_full.add();
    }
    return {};
  }
  if (stopped_) {
    stopped_ = false;
    stats_.wakes.add();
  }
  return {slot_ptr(free_[nfree_ - 1]) + hdr_len_, max_frame()};
}

bool SendQueue::hdr_ok(const NetHdr& h, uint32_t len) const {
  using namespace virtio;
  if (h.flags & ~kNetHdrFNeedsCsum) return false;
  if (h.flags & kNetHdrFNeedsCsum) {
    if (!has(features_, kNetFCsum)) return false;
    if (uint32_t{h.csum_start} + h.csum_offset + 2 > len) return false;
  }
  switch (h.gso_type & ~kNetHdrGsoEcn) {
    case kNetHdrGsoNone: return (h.gso_type & kNetHdrGsoEcn) == 0;
    case kNetHdrGsoTcpv4: if (!has(features_, kNetFHostTso4)) return false; break;
    case kNetHdrGsoTcpv6: if (!has(features_, kNetFHostTso6)) return false; break;
    case kNetHdrGsoUdp: if (!has(features_, kNetFHostUfo)) return false; break;
    case kNetHdrGsoUdpL4: if (!has(features_, kNetFHostUso)) return false; break;
    default: return false;
  }
  if ((h.gso_type & kNetHdrGsoEcn) && !has(features_, kNetFHostEcn)) return false;
  // GSO needs a checksum offload request and a segment size (5.1.6.2).
  return h.gso_size != 0 && (h.flags & kNetHdrFNeedsCsum) && h.hdr_len <= len;
}

TxStatus SendQueue::commit(const NetHdr& hdr, uint32_t len) {
  if (ring_.broken()) return TxStatus::broken;
  if (nfree_ == 0) return TxStatus::ring_full;
  if (len == 0 || len > max_frame()) {
    stats_.drops.add();
    return TxStatus::too_big;
  }
  if (!hdr_ok(hdr, len)) {
    stats_.drops.add();
    return TxStatus::bad_header;
  }
  const uint16_t slot = free_[nfree_ - 1];
  NetHdr h = hdr;
  h.num_buffers = 0;
  if (hdr_len_ == sizeof(NetHdr)) std::memcpy(slot_ptr(slot), &h, sizeof(NetHdr));
  else std::memcpy(slot_ptr(slot), &h, offsetof(NetHdr, num_buffers));

  virtio::Segment segs[2];
  size_t n;
  if (split_header_) {
    segs[0] = {slot_gpa(slot), hdr_len_};
    segs[1] = {slot_gpa(slot) + hdr_len_, len};
    n = 2;
  } else {
    segs[0] = {slot_gpa(slot), hdr_len_ + len};
    n = 1;
  }
  switch (ring_.add(std::span(segs, n), {}, token_of(slot))) {
    case virtio::AddStatus::ok: break;
    case virtio::AddStatus::no_space: return TxStatus::ring_full;
    case virtio::AddStatus::bad_args: return TxStatus::broken;
  }
  --nfree_;
  ++unflushed_;
  stats_.packets.add();
  stats_.bytes.add(len);
  return TxStatus::ok;
}

TxStatus SendQueue::send(const NetHdr& hdr, std::span<const uint8_t> frame) {
  if (frame.size() > max_frame() || frame.empty()) {
    stats_.drops.add();
    return TxStatus::too_big;
  }
  auto area = reserve();
  if (area.empty()) return ring_.broken() ? TxStatus::broken : TxStatus::ring_full;
  std::memcpy(area.data(), frame.data(), frame.size());
  return commit(hdr, static_cast<uint32_t>(frame.size()));
}

void SendQueue::flush() {
  if (unflushed_ == 0) return;
  unflushed_ = 0;
  if (ring_.kick_prepare() && kick_.valid()) {
    eventfd_signal(kick_.get());
    stats_.kicks.add();
  }
}

bool SendQueue::wait_space(int timeout_ms) {
  flush();
  if (reclaim() > 0) return true;
  if (ring_.broken()) return false;
  bool freed = false;
  // start_xmit's stop path: ask for an interrupt after most in-flight buffers are used; if
  // they already are, no interrupt will come, so reclaim right away.
  if (ring_.enable_cb_delayed() && call_.valid()) {
    pollfd p{call_.get(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) > 0 && eventfd_drain(call_.get()) > 0) stats_.interrupts.add();
  }
  ring_.disable_cb();
  freed = reclaim() > 0;
  return freed;
}

}  // namespace vnet::driver
