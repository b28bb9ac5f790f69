// One send queue of the driver (the role of Linux virtio_net's send_queue with start_xmit /
// xmit_skb / free_old_xmit): each frame is copied once into a TX slot of our memory behind a
// virtio_net_hdr and made available; completed slots are reclaimed when the ring runs short;
// when no slot is free the queue is "stopped" and resumes once completions come back.
//
// Layout: with VIRTIO_F_INDIRECT_DESC the header and the frame are two descriptors of one
// indirect table (one ring entry per frame); without it they are one descriptor (VERSION_1
// allows any layout).
//
// Threading: one thread sends on a queue at a time; stats() may be read from any thread.
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

enum class TxStatus {
  ok,
  ring_full,   // no free slot even after reclaiming: wait_space() or poll reclaim() and retry
  too_big,     // longer than max_frame()
  bad_header,  // checksum / GSO metadata not negotiated or out of the frame
  broken,      // the device broke the ring
};
const char* to_string(TxStatus s);

struct TxQueueSetup {
  virtio::DriverRingConfig ring;  // with an indirect block when split_header is true
  uint8_t* slots = nullptr;       // ring.size slots of slot_size bytes
  uint64_t slots_gpa = 0;
  uint32_t slot_size = 0;
  uint32_t hdr_len = 12;
  bool split_header = false;      // header and frame as two (indirect) descriptors
  virtio::Features features = 0;
  UniqueFd kick;
  UniqueFd call;
};

class SendQueue {
 public:
  explicit SendQueue(TxQueueSetup setup);

  // Zero-extra-copy path: the frame area of the next free slot (max_frame() bytes), or an empty
  // span when the ring is full. Write the frame there, then commit().
  std::span<uint8_t> reserve();
  // Sends the len bytes written into the last reserve() area under hdr (num_buffers ignored).
  TxStatus commit(const virtio::NetHdr& hdr, uint32_t len);
  // reserve + copy + commit.
  TxStatus send(const virtio::NetHdr& hdr, std::span<const uint8_t> frame);
  // Notifies the device (if it wants a kick) about everything sent since the last flush.
  void flush();
  // free_old_xmit: takes back completed slots. Returns how many.
  uint32_t reclaim();
  // For a stopped queue: re-arms completion callbacks (delayed until ~3/4 of the in-flight
  // buffers are done) and sleeps on the call eventfd up to timeout_ms. Returns true when slots
  // are free again.
  bool wait_space(int timeout_ms);

  uint32_t max_frame() const { return slot_size_ - hdr_len_; }
  uint16_t in_flight() const { return static_cast<uint16_t>(ring_.size() - nfree_); }
  bool stopped() const { return stopped_; }
  bool broken() const { return ring_.broken(); }
  const TxQueueStats& stats() const { return stats_; }
  uint16_t size() const { return ring_.size(); }
  int kick_fd() const { return kick_.get(); }
  int call_fd() const { return call_.get(); }

 private:
  static void* token_of(uint16_t slot) { return reinterpret_cast<void*>(uintptr_t{slot} + 1); }
  static uint16_t slot_of(void* token) { return static_cast<uint16_t>(reinterpret_cast<uintptr_t>(token) - 1); }
  uint8_t* slot_ptr(uint16_t s) const { return slots_ + static_cast<size_t>(s) * slot_size_; }
  uint64_t slot_gpa(uint16_t s) const { return slots_gpa_ + static_cast<uint64_t>(s) * slot_size_; }
  bool hdr_ok(const virtio::NetHdr& h, uint32_t len) const;

  virtio::SplitRingDriver ring_;
  uint8_t* slots_;
  uint64_t slots_gpa_;
  uint32_t slot_size_;
  uint32_t hdr_len_;
  bool split_header_;
  virtio::Features features_;
  UniqueFd kick_, call_;
  std::vector<uint16_t> free_;
  uint16_t nfree_ = 0;
  uint16_t unflushed_ = 0;
  bool stopped_ = false;
  bool ring_error_counted_ = false;
  TxQueueStats stats_;
};

}  // namespace vnet::driver
