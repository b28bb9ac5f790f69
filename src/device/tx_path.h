// TX engine (guest to switch), the role of Linux vhost-net handle_tx: pop a burst of chains
// from the guest's TX ring, turn each into a Packet that points into guest memory (no copy),
// and complete the chains only when the switch is done with them.
#pragma once

#include <cstdint>

#include "dataplane/packet.h"
#include "device/device_queue.h"
#include "mem/guest_memory.h"

namespace vnet::device {

// Pops up to min(max, kTxBurst) chains from a started TX queue (q.lock held) and fills out[]
// with the packets among them; malformed ones are counted and dropped. Chains of a disabled
// ring are drained and discarded. Every popped chain stays in q.tx until tx_complete_burst().
uint16_t tx_pop_burst(DeviceQueue& q, const QueueContext& ctx, const MemoryTable& mem, uint32_t max_frame_len,
                      dataplane::Packet* out, uint16_t max);

// Returns every chain of the burst to the driver (used len 0, as vhost-net does for TX),
// publishes them in one used-idx store and makes one notification decision.
void tx_complete_burst(DeviceQueue& q);

// Builds the packet view of a readable chain: reads the virtio-net header (which may be split
// across descriptors), finds where the frame starts, copies the first Ethernet bytes. The
// chain must hold at least hdr_len bytes. Exposed for the fuzz target and tests.
void chain_to_packet(const virtio::Chain& c, uint32_t hdr_len, dataplane::Packet& pkt);

}  // namespace vnet::device
