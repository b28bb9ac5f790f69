#include "virtio/ring_error.h"

namespace vnet::virtio {

const char* to_string(RingError e) {
  switch (e) {
    case RingError::none: return "none";
    case RingError::avail_idx_jump: return "avail idx moved by more than the queue size";
    case RingError::head_out_of_range: return "head index out of range";
    case RingError::next_out_of_range: return "next index out of range";
    case RingError::chain_loop: return "descriptor chain loops (longer than the queue)";
    case RingError::indirect_bad_length: return "indirect table length zero or not a multiple of 16";
    case RingError::nested_indirect: return "indirect descriptor inside an indirect table";
    case RingError::indirect_with_next: return "INDIRECT together with NEXT";
    case RingError::readable_after_writable: return "readable descriptor after a writable one";
    case RingError::address_not_mapped: return "buffer address outside guest memory";
    case RingError::chain_too_long: return "chain total length over the limit";
    case RingError::too_many_segments: return "chain has too many segments";
    case RingError::used_id_bad: return "device returned a used id that is not in flight";
  }
  return "unknown";
}

}  // namespace vnet::virtio
