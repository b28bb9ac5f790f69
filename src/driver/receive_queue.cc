#include "driver/receive_queue.h"

#include <poll.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "base/eventfd.h"

namespace vnet::driver {

using virtio::NetHdr;
using virtio::UsedBuffer;

size_t RxFrame::copy_to(uint8_t* dst, size_t cap) const {
  size_t n = 0;
  for (uint16_t i = 0; i < nsegs && n < cap; ++i) {
    const size_t k = std::min<size_t>(segs[i].len, cap - n);
    std::memcpy(dst + n, segs[i].data, k);
    n += k;
  }
  return n;
}

ReceiveQueue::ReceiveQueue(RxQueueSetup s)
    : ring_(s.ring),
      buffers_(s.buffers),
      buffers_gpa_(s.buffers_gpa),
      buf_size_(s.buf_size),
      mergeable_(s.mergeable),
      hdr_len_(s.hdr_len),
      features_(s.features),
      kick_(std::move(s.kick)),
      call_(std::move(s.call)),
      free_(s.ring.size),
      nfree_(s.ring.size),
      segs_(kMaxRxSegments),
      frame_slots_(kMaxRxSegments) {
  for (uint16_t i = 0; i < s.ring.size; ++i) free_[i] = static_cast<uint16_t>(s.ring.size - 1 - i);
}

uint32_t ReceiveQueue::fill() {
  uint32_t posted = 0;
  while (nfree_ > 0 && ring_.num_free() > 0) {
    const uint16_t slot = free_[nfree_ - 1];
    const virtio::Segment in{buffers_gpa_ + static_cast<uint64_t>(slot) * buf_size_, buf_size_};
    if (ring_.add({}, std::span(&in, 1), token_of(slot)) != virtio::AddStatus::ok) break;
    --nfree_;
    ++posted;
  }
  if (posted > 0) {
    stats_.buffers_posted.add(posted);
    // One notification per refill batch at most, and only if the device asked for it.
    if (ring_.kick_prepare() && kick_.valid()) {
      eventfd_signal(kick_.get());
      stats_.kicks.add();
    }
  }
  return posted;
}

int ReceiveQueue::poll(int budget, RxSink& sink, PollMode mode) {
  stats_.polls.add();
  // NAPI: no interrupts while we poll (a no-op once disabled).
  ring_.disable_cb();
  int done = 0;
  for (;;) {
    while (done < budget) {
      auto u = ring_.get_buf();
      if (!u) break;
      receive(*u, sink);
      ++done;
    }
    if (ring_.broken()) {
      note_ring_error();
      break;
    }
    if (ring_.num_free() > ring_.size() / 2) fill();
    if (mode != PollMode::interrupt || done >= budget) break;
    // virtqueue_enable_cb_prepare + virtqueue_poll: re-arm, then re-check so that a buffer used
    // between our last get_buf and the re-arm is not left waiting for an interrupt that the
    // device will not send.
    const uint16_t last = ring_.enable_cb_prepare();
    if (!ring_.poll(last)) break;
    ring_.disable_cb();
  }
  if (done == 0) stats_.empty_polls.add();
  return done;
}

bool ReceiveQueue::wait(int timeout_ms) {
  if (!call_.valid()) return false;
  pollfd p{call_.get(), POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  if (eventfd_drain(call_.get()) == 0) return false;
  stats_.interrupts.add();
  return true;
}

void ReceiveQueue::note_ring_error() {
  if (ring_error_counted_) return;
  ring_error_counted_ = true;
  stats_.ring_errors.add();
}

void ReceiveQueue::drop(RxError e) {
  stats_.count(e);
  stats_.drops.add();
}

NetHdr ReceiveQueue::read_hdr(uint16_t slot) const {
  NetHdr h{};
  // Copied once: the device may keep writing the shared buffer, we decide on our copy.
  // Constant sizes so the copies inline (a libc call per frame shows in profiles).
  if (hdr_len_ == sizeof(NetHdr)) {
    std::memcpy(&h, buf(slot), sizeof(NetHdr));
  } else {
    std::memcpy(&h, buf(slot), offsetof(NetHdr, num_buffers));
    h.num_buffers = 1;
  }
  return h;
}

bool ReceiveQueue::hdr_ok(const NetHdr& h, uint32_t frame_len) const {
  using namespace virtio;
  constexpr uint8_t kKnownFlags = kNetHdrFNeedsCsum | kNetHdrFDataValid | kNetHdrFRscInfo;
  if (h.flags & ~kKnownFlags) return false;
  if (h.flags & kNetHdrFRscInfo) return false;  // RSC_EXT is never negotiated
  if (h.flags & kNetHdrFNeedsCsum) {
    if (!has(features_, kNetFGuestCsum)) return false;
    if (uint32_t{h.csum_start} + h.csum_offset + 2 > frame_len) return false;
  }
  switch (h.gso_type & ~kNetHdrGsoEcn) {
    case kNetHdrGsoNone: return (h.gso_type & kNetHdrGsoEcn) == 0;
    case kNetHdrGsoTcpv4: if (!has(features_, kNetFGuestTso4)) return false; break;
    case kNetHdrGsoTcpv6: if (!has(features_, kNetFGuestTso6)) return false; break;
    case kNetHdrGsoUdp: if (!has(features_, kNetFGuestUfo)) return false; break;
    default: return false;
  }
  if ((h.gso_type & kNetHdrGsoEcn) && !has(features_, kNetFGuestEcn)) return false;
  return h.gso_size != 0;
}

void ReceiveQueue::receive(const UsedBuffer& u, RxSink& sink) {
  const uint16_t slot = slot_of(u.token);
  if (mergeable_) receive_mergeable(slot, u, sink);
  else receive_big(slot, u, sink);
}

void ReceiveQueue::receive_big(uint16_t slot, const UsedBuffer& u, RxSink& sink) {
  // get_buf clamps len to what we posted and flags the excess.
  if (u.len_error) {
    drop(RxError::len_exceeds_buffer);
  } else if (u.len < hdr_len_ + kEthHeaderLen) {
    drop(RxError::short_frame);
  } else {
    const NetHdr h = read_hdr(slot);
    const uint32_t len = u.len - hdr_len_;
    if (!hdr_ok(h, len)) {
      drop(RxError::bad_gso);
    } else {
      segs_[0] = RxSegment{buf(slot) + hdr_len_, len};
      RxFrame f{h, len, 1, segs_.data()};
      f.hdr.num_buffers = 1;
      stats_.packets.add();
      stats_.bytes.add(len);
      sink.on_frame(f);
    }
  }
  recycle(slot);
}

void ReceiveQueue::drain_following(uint16_t n) {
  for (uint16_t k = 0; k < n; ++k) {
    auto v = ring_.get_buf();
    if (!v) return;
    recycle(slot_of(v->token));
  }
}

void ReceiveQueue::receive_mergeable(uint16_t slot, const UsedBuffer& u, RxSink& sink) {
  if (u.len < hdr_len_ + kEthHeaderLen) {
    // Like Linux receive_buf: a short first buffer is dropped alone.
    drop(RxError::short_frame);
    recycle(slot);
    return;
  }
  const NetHdr h = read_hdr(slot);
  const uint16_t nb = h.num_buffers;
  const uint16_t max_nb = std::min<uint16_t>(kMaxRxSegments, ring_.size());
  if (nb == 0 || nb > max_nb) {
    drop(RxError::bad_num_buffers);
    recycle(slot);
    return;
  }
  if (u.len_error) {
    // The frame is lost; its other buffers are still ours to take back (Linux err_skb).
    drop(RxError::len_exceeds_buffer);
    recycle(slot);
    drain_following(static_cast<uint16_t>(nb - 1));
    return;
  }

  frame_slots_[0] = slot;
  segs_[0] = RxSegment{buf(slot) + hdr_len_, u.len - hdr_len_};
  uint32_t total = segs_[0].len;
  bool too_long = false;
  uint16_t got = 1;
  for (; got < nb; ++got) {
    auto v = ring_.get_buf();
    if (!v) break;
    const uint16_t s = slot_of(v->token);
    frame_slots_[got] = s;
    if (v->len_error) too_long = true;
    segs_[got] = RxSegment{buf(s), v->len};
    total += v->len;
  }

  if (got < nb) {
    // The device claimed more buffers than it has used (or broke the ring meanwhile).
    if (!ring_.broken()) drop(RxError::buffers_missing);
    else stats_.drops.add();
  } else if (too_long) {
    drop(RxError::len_exceeds_buffer);
  } else if (total < kEthHeaderLen) {
    drop(RxError::short_frame);
  } else if (!hdr_ok(h, total)) {
    drop(RxError::bad_gso);
  } else {
    RxFrame f{h, total, nb, segs_.data()};
    stats_.packets.add();
    stats_.bytes.add(total);
    sink.on_frame(f);
  }
  for (uint16_t k = 0; k < got; ++k) recycle(frame_slots_[k]);
}

}  // namespace vnet::driver
