// Per-queue counters (the role of virtnet_rq_stats / virtnet_sq_stats). One thread writes a
// queue's counters (the thread polling it); any thread may read them, so each is a relaxed
// atomic updated with load+store (no locked read-modify-write on the hot path).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace vnet::driver {

class Counter {
 public:
  void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Why a received frame was dropped. Each malformed-device case has its own counter.
enum class RxError : uint8_t {
  short_frame,         // used len < virtio header + Ethernet header        (length error)
  len_exceeds_buffer,  // used len larger than the buffer we posted          (length error)
  buffers_missing,     // num_buffers runs past the used entries available   (length error)
  bad_num_buffers,     // num_buffers 0 or more than a frame may span        (frame error)
  bad_gso,             // GSO / checksum metadata we did not negotiate       (frame error)
  kCount
};
const char* to_string(RxError e);
constexpr bool is_length_error(RxError e) {
  return e == RxError::short_frame || e == RxError::len_exceeds_buffer || e == RxError::buffers_missing;
}

struct RxQueueStats {
  Counter packets, bytes;
  Counter drops;          // frames dropped (every error kind, once per frame)
  Counter ring_errors;    // the device broke the ring (used id not in flight): queue stopped
  Counter kicks;          // notifications sent after refills
  Counter buffers_posted; // buffers made available
  Counter polls, empty_polls;
  Counter interrupts;     // wake-ups by the call eventfd
  std::array<Counter, static_cast<size_t>(RxError::kCount)> errors;

  void count(RxError e) { errors[static_cast<size_t>(e)].add(); }
  uint64_t error(RxError e) const { return errors[static_cast<size_t>(e)].get(); }
  uint64_t length_errors() const;  // rx_length_errors
  uint64_t frame_errors() const;   // rx_frame_errors
};

struct TxQueueStats {
  Counter packets, bytes;
  Counter drops;        // frames refused (too big, bad header metadata)
  Counter ring_full;    // times the queue stopped because the ring was full
  Counter wakes;        // times it resumed after completions
  Counter completions;  // buffers reclaimed
  Counter ring_errors;  // the device broke the ring: queue stopped
  Counter len_errors;   // used len larger than the (zero) writable length we offered
  Counter kicks;
  Counter interrupts;
};

}  // namespace vnet::driver
