#include "driver/queue_stats.h"

namespace vnet::driver {

const char* to_string(RxError e) {
  switch (e) {
    case RxError::short_frame: return "short_frame";
    case RxError::len_exceeds_buffer: return "len_exceeds_buffer";
    case RxError::buffers_missing: return "buffers_missing";
    case RxError::bad_num_buffers: return "bad_num_buffers";
    case RxError::bad_gso: return "bad_gso";
    case RxError::kCount: break;
  }
  return "?";
}

uint64_t RxQueueStats::length_errors() const {
  uint64_t n = 0;
  for (size_t i = 0; i < errors.size(); ++i)
    if (is_length_error(static_cast<RxError>(i))) n += errors[i].get();
  return n;
}

uint64_t RxQueueStats::frame_errors() const {
  uint64_t n = 0;
  for (size_t i = 0; i < errors.size(); ++i)
    if (!is_length_error(static_cast<RxError>(i))) n += errors[i].get();
  return n;
}

}  // namespace vnet::driver
