// One receive queue of the driver (the role of Linux virtio_net's receive_queue): keeps the RX
// ring filled with buffers (try_fill_recv), takes used buffers back within a budget
// (virtnet_receive / virtnet_poll), reassembles mergeable frames from num_buffers, and checks
// everything the device wrote before reading a byte of it.
//
// Two buffer modes, fixed when features are negotiated:
//  - mergeable (VIRTIO_NET_F_MRG_RXBUF): buffers of buf_size bytes; a frame's first buffer starts
//    with the virtio_net_hdr whose num_buffers says how many used buffers the frame spans;
//  - big (no MRG_RXBUF): each buffer holds the header plus a whole frame of the largest size.
// Every buffer is one descriptor and belongs to a fixed slot of our memory, so the driver never
// reads outside its own buffers whatever the device writes in the used ring.
//
// Threading: one thread polls a queue at a time; stats() may be read from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/fd.h"
#include "driver/queue_stats.h"
#include "virtio/features.h"
#include "virtio/net_hdr.h"
#include "virtio/split_ring_driver.h"

namespace vnet::driver {

constexpr uint32_t kEthHeaderLen = 14;
// Most buffers one mergeable frame may span (64 x 2 KiB covers a 64 KiB GSO frame and more).
constexpr uint16_t kMaxRxSegments = 64;

struct RxSegment {
  const uint8_t* data;
  uint32_t len;
};

// A received frame, valid only during RxSink::on_frame (its buffers are recycled after).
struct RxFrame {
  virtio::NetHdr hdr;          // copied out of guest memory (num_buffers = 1 in big mode)
  uint32_t len;                // frame bytes, virtio header excluded
  uint16_t nsegs;
  const RxSegment* segs;       // the frame's bytes, in order
  // Copies up to cap bytes of the frame into dst; returns the number copied.
  size_t copy_to(uint8_t* dst, size_t cap) const;
};

class RxSink {
 public:
  virtual ~RxSink() = default;
  virtual void on_frame(const RxFrame& frame) = 0;
};

enum class PollMode {
  busy,       // callbacks stay disabled; the caller polls again whenever it wants
  interrupt,  // when fewer than budget frames arrived, callbacks are re-armed (with the
              // enable_cb_prepare / poll re-check) so wait() wakes on the next frame
};

struct RxQueueSetup {
  virtio::DriverRingConfig ring;
  uint8_t* buffers = nullptr;   // ring.size buffers of buf_size bytes each
  uint64_t buffers_gpa = 0;
  uint32_t buf_size = 0;
  bool mergeable = false;
  uint32_t hdr_len = 12;
  virtio::Features features = 0;  // negotiated (decides which header metadata is legal)
  UniqueFd kick;
  UniqueFd call;
};

class ReceiveQueue {
 public:
  explicit ReceiveQueue(RxQueueSetup setup);

  // try_fill_recv: posts every free buffer and kicks if the device asked for it. Returns the
  // number posted.
  uint32_t fill();
  // Receives up to budget frames (dropped ones count against the budget too) and hands good
  // ones to sink. Refills when more than half of the ring is free. Returns the number of frames
  // taken from the used ring, good or dropped.
  int poll(int budget, RxSink& sink, PollMode mode = PollMode::busy);
  // Blocks until the device signals the call eventfd or timeout_ms passes (-1: forever).
  // Returns true when signalled. Only meaningful after poll(..., PollMode::interrupt) returned
  // less than its budget.
  bool wait(int timeout_ms);

  const RxQueueStats& stats() const { return stats_; }
  bool broken() const { return ring_.broken(); }
  virtio::RingError ring_error() const { return ring_.error(); }
  bool mergeable() const { return mergeable_; }
  uint32_t buf_size() const { return buf_size_; }
  uint16_t size() const { return ring_.size(); }
  uint16_t num_free() const { return ring_.num_free(); }
  int kick_fd() const { return kick_.get(); }
  int call_fd() const { return call_.get(); }

 private:
  static void* token_of(uint16_t slot) { return reinterpret_cast<void*>(uintptr_t{slot} + 1); }
  static uint16_t slot_of(void* token) { return static_cast<uint16_t>(reinterpret_cast<uintptr_t>(token) - 1); }
  uint8_t* buf(uint16_t slot) const { return buffers_ + static_cast<size_t>(slot) * buf_size_; }

  void receive(const virtio::UsedBuffer& first, RxSink& sink);
  void receive_big(uint16_t slot, const virtio::UsedBuffer& u, RxSink& sink);
  void receive_mergeable(uint16_t slot, const virtio::UsedBuffer& u, RxSink& sink);
  // Takes (and recycles) up to n further used buffers of a frame being dropped.
  void drain_following(uint16_t n);
  virtio::NetHdr read_hdr(uint16_t slot) const;
  bool hdr_ok(const virtio::NetHdr& h, uint32_t frame_len) const;
  void drop(RxError e);
  void recycle(uint16_t slot) { free_[nfree_++] = slot; }
  void note_ring_error();

  virtio::SplitRingDriver ring_;
  uint8_t* buffers_;
  uint64_t buffers_gpa_;
  uint32_t buf_size_;
  bool mergeable_;
  uint32_t hdr_len_;
  virtio::Features features_;
  UniqueFd kick_, call_;
  std::vector<uint16_t> free_;  // slots not posted to the device
  uint16_t nfree_ = 0;
  bool ring_error_counted_ = false;
  // Scratch for the frame being reassembled (preallocated: no allocation per packet).
  std::vector<RxSegment> segs_;
  std::vector<uint16_t> frame_slots_;
  RxQueueStats stats_;
};

}  // namespace vnet::driver
