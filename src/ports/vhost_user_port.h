// A switch port backed by a vhost-user front-end (a QEMU guest, our userspace driver): the
// dataplane::Port face of a device::VirtioNetDevice. Queue q of the port is the device's queue
// pair q for receiving: receive() reads the guest's TX ring 2q+1. transmit(q) writes the RX
// ring of pair q if that pair is usable, else of pair q % usable (see transmit()).
//
// num_queues() is the number of pairs with a started ring, not of usable (enabled) pairs: the
// datapath polls that many queues and also picks destination queues below it. Polling must
// cover started but disabled pairs (vhost-user: their TX chains are still consumed; the
// device drops them as `disabled`), and a guest using fewer channels than it has pairs (Linux
// `ethtool -L eth0 combined 1`, or 1 vCPU with queues=2) leaves pairs started but disabled;
// transmit() steers those to usable pairs.
//
// Whoever creates the port registers device() with the vhost-user service (vnetd:
// Service::add_endpoint(EndpointConfig{path, ...}, port->device())) and removes the endpoint
// before destroying the port.
#pragma once

#include <memory>
#include <string>

#include "dataplane/port.h"
#include "device/virtio_net_device.h"

namespace vnet::ports {

class VhostUserPort final : public dataplane::Port {
 public:
  // cfg.name is used as the port name.
  explicit VhostUserPort(device::DeviceConfig cfg);

  const std::string& name() const override { return device_.name(); }
  uint16_t num_queues() const override { return device_.num_started_queue_pairs(); }

  // Contract with the poll thread: if receive(q) returns n > 0, call receive_done(q) (same
  // thread) before any other call on this port's queue q and before a QSBR quiescent point;
  // the guest's TX ring is locked in between (see device/virtio_net_device.h).
  uint16_t receive(uint16_t q, dataplane::Packet* out, uint16_t max) override { return device_.tx_receive(q, out, max); }
  void receive_done(uint16_t q) override { device_.tx_done(q); }
  // Delivers on the RX ring of pair q if q is below num_usable_queue_pairs() (the leading
  // started and enabled pairs), else on pair q % num_usable_queue_pairs(): a disabled ring must
  // get no packets, and the datapath's queue choice (thread t -> t % num_queues()) knows only
  // started pairs. The choice is made per burst, so a guest changing its channel count is
  // followed at once, without a replan. Two threads may then write one RX ring; the device
  // serializes that with the ring's lock. With no usable pair the device drops and counts on
  // queue q, as before.
  void transmit(uint16_t q, const dataplane::TxItem* items, uint16_t n) override;

  // The TX ring's kick eventfd; it changes when the front-end restarts the ring (watch
  // device().generation()).
  int wait_fd(uint16_t q) const override { return device_.tx_kick_fd(q); }
  // A ring restart may reuse the same fd number for a new eventfd: poll threads re-register
  // their epoll sets when this changes.
  uint64_t wait_fd_generation() const override { return device_.generation(); }
  bool enable_notify(uint16_t q) override { return device_.tx_enable_notify(q); }
  void disable_notify(uint16_t q) override { device_.tx_disable_notify(q); }

  device::VirtioNetDevice& device() { return device_; }
  const device::VirtioNetDevice& device() const { return device_; }

 private:
  device::VirtioNetDevice device_;
};

// Convenience for vnetd: a port named `name` with `queue_pairs` queue pairs and default limits.
std::unique_ptr<VhostUserPort> make_vhost_user_port(std::string name, uint16_t queue_pairs = 1);

}  // namespace vnet::ports
