#include "ports/tap_stats.h"

namespace vnet::ports {

const char* to_string(TapTxDrop d) {
  switch (d) {
    case TapTxDrop::kernel_busy: return "kernel_busy";
    case TapTxDrop::link_down: return "link_down";
    case TapTxDrop::port_down: return "port_down";
    case TapTxDrop::bad_packet: return "bad_packet";
    case TapTxDrop::too_many_spans: return "too_many_spans";
    case TapTxDrop::rejected: return "rejected";
    case TapTxDrop::bad_queue: return "bad_queue";
    default: return "?";
  }
}

const char* to_string(TapRxDrop d) {
  switch (d) {
    case TapRxDrop::runt: return "runt";
    default: return "?";
  }
}

const char* to_string(TapErrorKind k) {
  switch (k) {
    case TapErrorKind::invalid: return "invalid";
    case TapErrorKind::no_memory: return "no_memory";
    case TapErrorKind::link_down: return "link_down";
    case TapErrorKind::device_gone: return "device_gone";
    case TapErrorKind::other: return "other";
    default: return "?";
  }
}

uint64_t TapQueueStats::tx_drops_total() const {
  uint64_t t = 0;
  for (auto v : tx_drops) t += v;
  return t;
}

uint64_t TapQueueStats::rx_drops_total() const {
  uint64_t t = 0;
  for (auto v : rx_drops) t += v;
  return t;
}

TapQueueStats& TapQueueStats::operator+=(const TapQueueStats& o) {
  rx_packets += o.rx_packets;
  rx_bytes += o.rx_bytes;
  tx_packets += o.tx_packets;
  tx_bytes += o.tx_bytes;
  for (size_t i = 0; i < kTapTxDropKinds; ++i) tx_drops[i] += o.tx_drops[i];
  for (size_t i = 0; i < kTapRxDropKinds; ++i) rx_drops[i] += o.rx_drops[i];
  for (size_t i = 0; i < kTapErrorKinds; ++i) {
    read_errors[i] += o.read_errors[i];
    write_errors[i] += o.write_errors[i];
  }
  return *this;
}

TapQueueStats snapshot(const TapQueueCounters& c) {
  constexpr auto r = std::memory_order_relaxed;
  TapQueueStats s;
  s.rx_packets = c.rx_packets.load(r);
  s.rx_bytes = c.rx_bytes.load(r);
  s.tx_packets = c.tx_packets.load(r);
  s.tx_bytes = c.tx_bytes.load(r);
  for (size_t i = 0; i < kTapTxDropKinds; ++i) s.tx_drops[i] = c.tx_drops[i].load(r);
  for (size_t i = 0; i < kTapRxDropKinds; ++i) s.rx_drops[i] = c.rx_drops[i].load(r);
  for (size_t i = 0; i < kTapErrorKinds; ++i) {
    s.read_errors[i] = c.read_errors[i].load(r);
    s.write_errors[i] = c.write_errors[i].load(r);
  }
  return s;
}

}  // namespace vnet::ports
