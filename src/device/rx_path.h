// RX engine (switch to guest), the role of Linux vhost-net handle_rx: for each packet take
// the guest's RX buffers (several with MRG_RXBUF, like get_rx_bufs), copy the frame straight
// from the source spans into them (one copy, VLAN edit applied on the way), write the
// virtio-net header with num_buffers, and publish used entries in batches.
#pragma once

#include <cstdint>

#include "dataplane/packet.h"
#include "device/device_queue.h"
#include "mem/guest_memory.h"

namespace vnet::device {

// Delivers items into a started, enabled RX queue (q.lock held). Never blocks: a packet that
// finds no (or too few) buffers is dropped and counted. Used entries are published every
// kUsedFlushBatch entries (at packet boundaries) and at the end, followed by one notification
// decision for the whole call.
void rx_deliver(DeviceQueue& q, const QueueContext& ctx, const MemoryTable& mem, const dataplane::TxItem* items,
                uint16_t n);

}  // namespace vnet::device
