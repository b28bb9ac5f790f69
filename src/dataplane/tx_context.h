// How a forwarder hands packets to a destination port from the thread it runs on.
//
// Port::transmit() must be serialized per (port, queue), and which queue a thread should use
// is a poll-thread decision (see plan.h). The forwarder therefore never calls
// Port::transmit() itself: it calls TxContext::current().transmit(dest, items, n), once per
// destination per burst. Inside a poll thread that picks the thread's queue of `dest` and takes
// the queue's spinlock only when another thread can write the same queue.
#pragma once

#include <cstdint>

#include "dataplane/packet.h"

namespace vnet::dataplane {

class Port;

class TxContext {
 public:
  virtual ~TxContext() = default;
  // Hands n items to dest (which copies them before returning). Returns n when the port got
  // them (the port may still drop some and count why), 0 when dest is not reachable from this
  // thread right now (being removed, or no queues): the caller counts those as dropped.
  virtual uint16_t transmit(Port* dest, const TxItem* items, uint16_t n) = 0;

  // The context of the calling thread: the poll thread's own, or, outside poll threads (unit
  // tests, tools), a direct context that calls dest->transmit(0, ...) without locking, so the
  // caller must be the only thread transmitting.
  static TxContext& current();
  // Installs ctx as the calling thread's context (nullptr restores the direct one).
  static void set_current(TxContext* ctx);
};

}  // namespace vnet::dataplane
