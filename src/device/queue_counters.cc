#include "device/queue_counters.h"

namespace vnet::device {

const char* to_string(DropReason r) {
  switch (r) {
    case DropReason::no_rx_buffer: return "no_rx_buffer";
    case DropReason::too_big: return "too_big";
    case DropReason::bad_chain: return "bad_chain";
    case DropReason::short_frame: return "short_frame";
    case DropReason::too_long: return "too_long";
    case DropReason::disabled: return "disabled";
    case DropReason::bad_offload: return "bad_offload";
    case DropReason::ring_broken: return "ring_broken";
    case DropReason::not_started: return "not_started";
    case DropReason::count_: break;
  }
  return "?";
}

uint64_t QueueStats::total_drops() const {
  uint64_t t = 0;
  for (uint64_t d : drops) t += d;
  return t;
}

QueueStats QueueCounters::snapshot() const {
  QueueStats s;
  s.packets = packets_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  for (int i = 0; i < static_cast<int>(DropReason::count_); ++i) s.drops[i] = drops_[i].load(std::memory_order_relaxed);
  s.ring_errors = ring_errors_.load(std::memory_order_relaxed);
  s.last_ring_error = last_ring_error_.load(std::memory_order_relaxed);
  s.kicks = kicks_.load(std::memory_order_relaxed);
  s.calls = calls_.load(std::memory_order_relaxed);
  s.empty_polls = empty_polls_.load(std::memory_order_relaxed);
  s.busy_polls = busy_polls_.load(std::memory_order_relaxed);
  s.sw_checksums = sw_checksums_.load(std::memory_order_relaxed);
  s.sw_gso_frames = sw_gso_frames_.load(std::memory_order_relaxed);
  s.sw_segments = sw_segments_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace vnet::device
