#include "ports/vhost_user_port.h"

namespace vnet::ports {

VhostUserPort::VhostUserPort(device::DeviceConfig cfg) : device_(std::move(cfg)) {}

void VhostUserPort::transmit(uint16_t q, const dataplane::TxItem* items, uint16_t n) {
  // Usable pairs are the leading ones, so q % usable is always one of them.
  const uint16_t usable = device_.num_usable_queue_pairs();
  device_.rx_transmit(usable != 0 && q >= usable ? static_cast<uint16_t>(q % usable) : q, items, n);
}

std::unique_ptr<VhostUserPort> make_vhost_user_port(std::string name, uint16_t queue_pairs) {
  device::DeviceConfig cfg;
  cfg.name = std::move(name);
  cfg.queue_pairs = queue_pairs;
  return std::make_unique<VhostUserPort>(std::move(cfg));
}

}  // namespace vnet::ports
