// The userspace virtio-net driver (the guest virtio_net role, as a library): speaks vhost-user
// as a front-end to a back-end (vnetd, DPDK net_vhost, ...), negotiates features with
// fallbacks, lays out guest memory in one memfd, brings N queue pairs up and tears them down.
//
//   auto drv = VirtioNetDriver::connect("/run/vnet/vm1.sock", cfg);   // or listen(...)
//   drv.value()->tx(0).send(hdr, frame); drv.value()->tx(0).flush();
//   drv.value()->rx(0).poll(32, sink, PollMode::interrupt); drv.value()->rx(0).wait(100);
//
// Feature fallbacks: MRG_RXBUF (else big RX buffers holding header + whole frame), EVENT_IDX
// (else flag-based suppression), INDIRECT_DESC (TX header and frame as one indirect entry, else
// one descriptor), MQ (else / beyond GET_QUEUE_NUM: fewer queue pairs, logged), MTU (sent with
// NET_SET_MTU when both sides support it; buffers are always sized for cfg.mtu).
//
// Queue pair i is vring 2i (RX) and 2i+1 (TX). Each queue pair may be driven by its own thread;
// the driver object itself (start/stop) belongs to one control thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "driver/backend_link.h"
#include "driver/driver_memory.h"
#include "driver/receive_queue.h"
#include "driver/send_queue.h"
#include "virtio/features.h"

namespace vnet::driver {

struct DriverConfig {
  uint16_t queue_pairs = 1;
  uint16_t queue_size = 256;     // power of two, 2..32768
  bool mrg_rxbuf = true;         // ask for VIRTIO_NET_F_MRG_RXBUF
  bool event_idx = true;         // ask for VIRTIO_RING_F_EVENT_IDX
  bool indirect_desc = true;     // ask for VIRTIO_RING_F_INDIRECT_DESC
  uint16_t mtu = 1500;           // 68..9216: sizes buffers; NET_SET_MTU when negotiated
  bool csum = false;             // ask for CSUM + GUEST_CSUM (NEEDS_CSUM frames both ways)
  bool host_tso = false;         // ask for HOST_TSO4/6 (TX frames up to 64 KiB with GSO metadata)
  bool host_uso = false;         // ask for HOST_USO (UDP_L4 GSO frames up to 64 KiB; implies CSUM)
  uint32_t mrg_buf_size = 2048;  // size of one mergeable RX buffer
  std::chrono::milliseconds timeout{5000};  // connect / accept / per reply
};

// Checks a config before anything is connected; the error names the bad field.
Status validate(const DriverConfig& cfg);

class VirtioNetDriver {
 public:
  // Connects to a back-end listening on socket_path (retried until cfg.timeout).
  static Result<std::unique_ptr<VirtioNetDriver>> connect(const std::string& socket_path, const DriverConfig& cfg);
  // Listens on socket_path and accepts one back-end (e.g. DPDK net_vhost with client=1).
  static Result<std::unique_ptr<VirtioNetDriver>> listen(const std::string& socket_path, const DriverConfig& cfg);
  // Brings the device up over any link (tests pass an in-process back-end).
  static Result<std::unique_ptr<VirtioNetDriver>> start(std::unique_ptr<BackendLink> link, const DriverConfig& cfg);

  VirtioNetDriver(const VirtioNetDriver&) = delete;
  VirtioNetDriver& operator=(const VirtioNetDriver&) = delete;
  ~VirtioNetDriver();  // stop()

  // Disables and stops every ring (GET_VRING_BASE) and closes the link. Idempotent. No queue may
  // be in use by another thread while this runs.
  Status stop();
  bool running() const { return link_ != nullptr; }

  uint16_t queue_pairs() const { return static_cast<uint16_t>(rxqs_.size()); }
  ReceiveQueue& rx(uint16_t qp) { return *rxqs_.at(qp); }
  SendQueue& tx(uint16_t qp) { return *txqs_.at(qp); }
  const ReceiveQueue& rx(uint16_t qp) const { return *rxqs_.at(qp); }
  const SendQueue& tx(uint16_t qp) const { return *txqs_.at(qp); }

  virtio::Features features() const { return features_; }
  uint64_t protocol_features() const { return protocol_features_; }
  bool mergeable() const { return virtio::has(features_, virtio::kNetFMrgRxbuf); }
  bool event_idx() const { return virtio::has(features_, virtio::kFRingEventIdx); }
  bool indirect() const { return virtio::has(features_, virtio::kFRingIndirectDesc); }
  uint32_t hdr_len() const { return hdr_len_; }
  uint16_t mtu() const { return cfg_.mtu; }
  // Largest frame (Ethernet header included, virtio header excluded) tx() accepts.
  uint32_t max_tx_frame() const { return txqs_.empty() ? 0 : txqs_[0]->max_frame(); }
  // "features=0x... mrg_rxbuf=1 event_idx=1 indirect=1 queue_pairs=N mtu=M" for logs.
  std::string describe() const;

 private:
  VirtioNetDriver(std::unique_ptr<BackendLink> link, const DriverConfig& cfg) : link_(std::move(link)), cfg_(cfg) {}
  Status negotiate();
  Status build_queues();
  Status start_rings();

  std::unique_ptr<BackendLink> link_;
  DriverConfig cfg_;
  virtio::Features features_ = 0;
  uint64_t protocol_features_ = 0;
  uint32_t hdr_len_ = 12;
  uint16_t nqp_ = 1;
  std::unique_ptr<DriverMemory> mem_;
  std::vector<std::unique_ptr<ReceiveQueue>> rxqs_;
  std::vector<std::unique_ptr<SendQueue>> txqs_;
  // Ring areas per vring (offsets into mem_) for SET_VRING_ADDR.
  struct RingPlace {
    size_t desc, avail, used;
  };
  std::vector<RingPlace> places_;
};

}  // namespace vnet::driver
