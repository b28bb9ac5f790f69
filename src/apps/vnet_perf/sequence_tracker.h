// Per-stream sequence accounting of the frames one receive queue sees, and the loss over all
// receive queues.
//
// A stream is one sender queue (PerfHeader::stream) and numbers its frames 0, 1, 2, ... Which of
// OUR receive queues a frame lands on is the back-end's choice, not the sender's: vnetd picks the
// destination queue by the poll thread that forwarded the frame (and threads are rebalanced), a
// hashing back-end picks it by flow, and vnet-perf rotates flows frame by frame. So one stream can
// be spread over several receive queues, and no queue alone can tell a gap from a frame that went
// to a sibling queue. Each queue therefore only records, per stream, how many frames it got and
// the highest sequence it saw; stream_loss() combines the queues: per stream, the frames up to the
// highest sequence seen on any queue minus the frames received on all of them, or, when the
// number sent is known at the end, sent minus received (so losses at the tail of a run count too).
// A late frame thus makes the loss smaller instead of being counted lost and reordered.
// Reordering is a per-queue notion: a frame older than one this queue already got of its stream.
// Duplicated frames are not detected (they would hide as many losses); no back-end duplicates.
//
// Single writer (the queue's worker thread); the counters are relaxed atomics so the main thread
// can read them for progress lines while the worker runs, and exactly after it joined.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>

namespace vnet::perf {

class SequenceTracker {
 public:
  static constexpr uint16_t kMaxStreams = 256;

  // Records one frame of `stream`. False (nothing recorded) when the stream is out of range:
  // not one of ours, the caller counts it foreign.
  bool on_frame(uint16_t stream, uint64_t seq) {
    if (stream >= kMaxStreams) return false;
    Stream& s = streams_[stream];
    bump(s.received, 1);
    const uint64_t next = s.next.load(std::memory_order_relaxed);
    if (seq >= next) s.next.store(seq + 1, std::memory_order_relaxed);
    else bump(reordered_, 1);
    return true;
  }

  uint64_t received(uint16_t stream) const { return streams_.at(stream).received.load(std::memory_order_relaxed); }
  // Highest sequence this queue saw of the stream plus one; 0 when it saw none.
  uint64_t next(uint16_t stream) const { return streams_.at(stream).next.load(std::memory_order_relaxed); }
  uint64_t reordered() const { return reordered_.load(std::memory_order_relaxed); }

 private:
  struct Stream {
    std::atomic<uint64_t> received{0}, next{0};
  };
  // Single writer: a plain load + store, no locked read-modify-write on the hot path.
  static void bump(std::atomic<uint64_t>& c, uint64_t n) { c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }

  std::array<Stream, kMaxStreams> streams_{};
  std::atomic<uint64_t> reordered_{0};
};

struct StreamLoss {
  uint64_t received = 0;  // frames of our streams over all queues
  uint64_t lost = 0;
  uint64_t reordered = 0;
};

// Loss over the receive queues of one run. expected_total is the number of frames the peer is
// known to have sent over all streams (0 = unknown: only gaps below the highest sequence seen
// count). untracked are frames that arrived without a sequence number to trust (foreign,
// corrupt): they still count as arrived against expected_total, so a generator of frames that
// are not vnet-perf's (testpmd txonly) does not show up as total loss.
StreamLoss stream_loss(std::span<const SequenceTracker* const> queues, uint64_t expected_total = 0, uint64_t untracked = 0);

}  // namespace vnet::perf
