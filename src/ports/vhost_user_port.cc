#include "ports/vhost_user_port.h"

namespace vnet::ports {

VhostUserPort::VhostUserPort(device::DeviceConfig cfg) : device_(std::move(cfg)) {}

std::unique_ptr<VhostUserPort> make_vhost_user_port(std::string name, uint16_t queue_pairs) {
  device::DeviceConfig cfg;
  cfg.name = std::move(name);
  cfg.queue_pairs = queue_pairs;
  return std::make_unique<VhostUserPort>(std::move(cfg));
}

}  // namespace vnet::ports
