// A port whose outside world is the host kernel's network stack, through a TAP device
// (/dev/net/tun with IFF_VNET_HDR): the userspace counterpart of what tun.c + vhost-net do.
//
//   transmit (switch -> kernel): one writev per frame; iovec 0 is a 12-byte virtio_net_hdr in a
//     per-queue scratch, the rest point straight into the source packet's spans (guest memory
//     or another tap's pool). VLAN push/pop is done by splitting that list. EAGAIN drops.
//   receive (kernel -> switch): one read per frame into a per-queue pool of kBurstSize buffers,
//     each big enough for the largest frame the device can hand us (see kTapRxBufferSize), so
//     nothing is ever truncated, with or without offloads. receive_done() (or the next
//     receive() on that queue) recycles the pool.
//
// Offloads (TUNSETOFFLOAD, on by default): checksum + TSO4/6 (+ USO4/6 where the kernel has
// them). The kernel may then hand us partially checksummed frames and GSO frames up to 64 KiB
// (their virtio_net_hdr goes into Packet::hdr as is); destinations without the offload get the
// work done for them (the device's RX path). Frames to the kernel carry their header as the
// source gave it: tun accepts NEEDS_CSUM and GSO headers whatever TUNSETOFFLOAD says.
//
// The tap has no batched read/write API, so this path costs one syscall per frame; everything
// else (buffers, iovecs, header) is preallocated per queue. When the device is deleted under us
// (read/write fail with EBADFD: the kernel detached our fds) the port goes down for good:
// receive returns nothing, transmit drops and counts, num_queues() reports 0, and the queue fds
// are re-pointed at a pipe that never becomes readable so that epoll sets stop waking up on
// the dead fd (tun reports EPOLLERR forever) without closing a number another thread may use.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "dataplane/port.h"
#include "ports/tap_device.h"
#include "ports/tap_frame_iov.h"
#include "ports/tap_stats.h"
#include "virtio/features.h"

namespace vnet::ports {

// Largest frame a tap hands us: MTU up to 65535 (the tap's max_mtu) + Ethernet header + a VLAN
// tag the kernel re-inserts from metadata. With TSO offloads on, GSO frames stay below 64 KiB
// as well, so the same size holds when offloads arrive. ~2 MiB of pool per queue (virtual;
// pages are touched only as far as frames reach).
constexpr uint32_t kTapRxFrameMax = 65535 + 14 + kVlanTagSize;
constexpr uint32_t kTapRxBufferSize = kTapVnetHdrSize + kTapRxFrameMax;
// One writev carries at most this many pieces (the kernel's UIO_MAXIOV).
constexpr uint32_t kTapMaxIov = 1024;
// TUNSETOFFLOAD flags asked for by default (linux/if_tun.h TUN_F_*: CSUM, TSO4, TSO6, USO4,
// USO6). No TSO_ECN: a guest without GUEST_ECN would need it segmented, and no UFO (gone).
constexpr unsigned kTapOffloadsNoUso = 0x01 | 0x02 | 0x04;
constexpr unsigned kTapOffloads = kTapOffloadsNoUso | 0x20 | 0x40;

enum class TapPortState : uint8_t { up, device_gone };

class TapPort final : public dataplane::Port {
 public:
  // Creates or attaches to the device (in the calling thread's network namespace), sets the
  // vnet header size, the offloads (kTapOffloads, or none with offloads = false), the MTU if
  // asked, and brings the link up. A kernel without USO gets checksum + TSO only.
  static Result<std::unique_ptr<TapPort>> open(const TapConfig& config, bool offloads = true);
  ~TapPort() override;
  TapPort(const TapPort&) = delete;
  TapPort& operator=(const TapPort&) = delete;

  // --- dataplane::Port ---
  const std::string& name() const override { return ifname_; }
  // The configured queue count while the device exists; 0 once it is gone.
  uint16_t num_queues() const override;
  // Reads up to min(max, kBurstSize) frames. Packets point into queue q's pool; they stay valid
  // until receive_done(q) or the next receive(q). Packet::vlan is the tag's VID (or kVlanNone);
  // the switch applies access-VLAN classification on top.
  uint16_t receive(uint16_t q, dataplane::Packet* out, uint16_t max) override;
  void receive_done(uint16_t q) override;
  void transmit(uint16_t q, const dataplane::TxItem* items, uint16_t n) override;
  int wait_fd(uint16_t q) const override;
  // Returns true if the tap fd is readable (or in error, so that receive() notices) right now.
  bool enable_notify(uint16_t q) override;
  void disable_notify(uint16_t) override {}

  // --- control path ---
  TapPortState state() const { return state_.load(std::memory_order_acquire); }
  bool up() const { return state() == TapPortState::up; }
  const std::string& ifname() const { return ifname_; }
  uint16_t configured_queues() const { return static_cast<uint16_t>(queues_.size()); }
  TapQueueStats queue_stats(uint16_t q) const;
  TapQueueStats total_stats() const;
  // How often the device was found deleted (0 or 1: the port never comes back).
  uint64_t device_lost() const { return device_lost_.load(std::memory_order_relaxed); }
  // TUNSETOFFLOAD (TUN_F_* flags): what the kernel may hand us. Not per packet.
  Status set_offload(unsigned tun_offload_flags);
  // The TUN_F_* flags in force, and the same as the GUEST_* features a virtio-net receiver
  // would have negotiated (offload::guest_features_from_tun_offloads).
  unsigned offloads() const { return offloads_.load(std::memory_order_relaxed); }
  virtio::Features dest_features() const;

 private:
  struct Queue;
  enum class Dir : uint8_t { read, write };
  TapPort(TapDevice dev, UniqueFd tomb_r, UniqueFd tomb_w);
  // Counts a syscall error other than EAGAIN, logs its kind once, and takes the port down if
  // it means the device is gone. Returns the kind.
  TapErrorKind on_error(Queue& q, Dir dir, int err);
  void mark_device_gone(int err);

  std::string ifname_;
  std::vector<UniqueFd> fds_;
  std::vector<std::unique_ptr<Queue>> queues_;
  UniqueFd tomb_r_, tomb_w_;  // the quiet pipe dead queue fds are re-pointed at
  std::atomic<TapPortState> state_{TapPortState::up};
  std::atomic<uint64_t> device_lost_{0};
  std::atomic<uint64_t> bad_queue_drops_{0};
  std::atomic<unsigned> offloads_{0};
  std::atomic<bool> logged_[2][kTapErrorKinds]{};
};

}  // namespace vnet::ports
