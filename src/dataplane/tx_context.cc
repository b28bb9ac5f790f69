#include "dataplane/tx_context.h"

#include "dataplane/port.h"

namespace vnet::dataplane {
namespace {

class DirectTx final : public TxContext {
 public:
  uint16_t transmit(Port* dest, const TxItem* items, uint16_t n) override {
    if (dest->num_queues() == 0) return 0;
    dest->transmit(0, items, n);
    return n;
  }
};

DirectTx g_direct;
thread_local TxContext* t_current = nullptr;

}  // namespace

TxContext& TxContext::current() { return t_current ? *t_current : g_direct; }
void TxContext::set_current(TxContext* ctx) { t_current = ctx; }

}  // namespace vnet::dataplane
