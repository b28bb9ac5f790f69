// Why a device-side queue was marked broken. Each malformed-ring case has its own value so
// that logs, counters and tests can tell them apart.
#pragma once

#include <cstdint>

namespace vnet::virtio {

enum class RingError : uint8_t {
  none = 0,
  avail_idx_jump,          // avail idx moved by more than the queue size
  head_out_of_range,       // head index from the avail ring >= queue size
  next_out_of_range,       // a next index >= size (or >= indirect table length)
  chain_loop,              // chain longer than the queue (or the indirect table): a loop
  indirect_bad_length,     // indirect table length zero or not a multiple of 16
  nested_indirect,         // INDIRECT inside an indirect table
  indirect_with_next,      // INDIRECT together with NEXT
  readable_after_writable, // device-readable descriptor after a device-writable one
  address_not_mapped,      // a buffer (or indirect table) outside guest memory
  chain_too_long,          // total chain length over the configured limit
  too_many_segments,       // more host spans than a chain may have
  used_id_bad,             // (driver side) device returned an id that is not in flight
};

const char* to_string(RingError e);

}  // namespace vnet::virtio
