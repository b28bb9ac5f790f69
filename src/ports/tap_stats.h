// Counters of a tap port, one block per queue. Written by the poll thread(s) using the queue
// with relaxed atomics (each counter has one writer at a time: receive(q) by the queue's owner,
// transmit(q) serialized by the callers), read by the control path at any time.
#pragma once

#include <atomic>
#include <cstdint>

namespace vnet::ports {

// Why a frame going to the kernel (transmit) was not written.
enum class TapTxDrop : uint8_t {
  kernel_busy,     // EAGAIN: the tap's socket buffer is full; we never block
  link_down,       // EIO: the interface is administratively down
  port_down,       // the device is gone (deleted under us)
  bad_packet,      // spans shorter than the packet claims, or too short for its VLAN edit
  too_many_spans,  // more pieces than one writev takes
  rejected,        // the kernel refused the frame or its header (EINVAL), or another error
  bad_queue,       // transmit() on a queue the port does not have
  count_
};

// Why a frame read from the kernel (receive) was not handed to the switch.
enum class TapRxDrop : uint8_t {
  runt,  // shorter than the virtio-net header plus an Ethernet header
  count_
};

// Syscall errors other than EAGAIN, by kind, per direction.
enum class TapErrorKind : uint8_t {
  invalid,      // EINVAL (header or frame refused, bad buffer size)
  no_memory,    // ENOMEM / ENOBUFS
  link_down,    // EIO
  device_gone,  // EBADFD / ENODEV / ENXIO / POLLERR: the device was deleted
  other,
  count_
};

constexpr size_t kTapTxDropKinds = static_cast<size_t>(TapTxDrop::count_);
constexpr size_t kTapRxDropKinds = static_cast<size_t>(TapRxDrop::count_);
constexpr size_t kTapErrorKinds = static_cast<size_t>(TapErrorKind::count_);

const char* to_string(TapTxDrop d);
const char* to_string(TapRxDrop d);
const char* to_string(TapErrorKind k);

// Live counters (one cache line block per queue so two queues' threads do not share lines).
struct alignas(64) TapQueueCounters {
  std::atomic<uint64_t> rx_packets{0};
  std::atomic<uint64_t> rx_bytes{0};  // frame bytes, virtio-net header excluded
  std::atomic<uint64_t> tx_packets{0};
  std::atomic<uint64_t> tx_bytes{0};  // frame bytes written, after VLAN edits
  std::atomic<uint64_t> tx_drops[kTapTxDropKinds]{};
  std::atomic<uint64_t> rx_drops[kTapRxDropKinds]{};
  std::atomic<uint64_t> read_errors[kTapErrorKinds]{};
  std::atomic<uint64_t> write_errors[kTapErrorKinds]{};
};

// A plain copy for the control path and tests.
struct TapQueueStats {
  uint64_t rx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_drops[kTapTxDropKinds]{};
  uint64_t rx_drops[kTapRxDropKinds]{};
  uint64_t read_errors[kTapErrorKinds]{};
  uint64_t write_errors[kTapErrorKinds]{};

  uint64_t tx_drop(TapTxDrop d) const { return tx_drops[static_cast<size_t>(d)]; }
  uint64_t rx_drop(TapRxDrop d) const { return rx_drops[static_cast<size_t>(d)]; }
  uint64_t read_error(TapErrorKind k) const { return read_errors[static_cast<size_t>(k)]; }
  uint64_t write_error(TapErrorKind k) const { return write_errors[static_cast<size_t>(k)]; }
  uint64_t tx_drops_total() const;
  uint64_t rx_drops_total() const;
  TapQueueStats& operator+=(const TapQueueStats& o);
};

TapQueueStats snapshot(const TapQueueCounters& c);

}  // namespace vnet::ports
