// `vnetctl stats`: per port and queue counters as JSON. rx/tx are seen from the switch, as in
// Open vSwitch: rx = frames the port brought into the switch (a guest's TX ring, frames the
// kernel wrote to the tap), tx = frames the switch delivered out of the port.
#include "ctl/daemon.h"

namespace vnet::ctl {
namespace {

constexpr size_t kTapErrorKinds = static_cast<size_t>(ports::TapErrorKind::count_);

Json queue_json(uint16_t q, uint64_t rxp, uint64_t rxb, uint64_t txp, uint64_t txb, uint64_t drops, uint64_t errors) {
  return {{"queue", q}, {"rx_packets", rxp}, {"rx_bytes", rxb}, {"tx_packets", txp},
          {"tx_bytes", txb}, {"drops", drops}, {"errors", errors}};
}

void add_to(Json& reasons, const std::string& key, uint64_t v) {
  reasons[key] = reasons.value(key, uint64_t{0}) + v;
}

}  // namespace

Json Daemon::port_stats(const PortEntry& e) const {
  Json queues = Json::array();
  Json drop_reasons = Json::object(), error_reasons = Json::object();
  uint64_t rxp = 0, rxb = 0, txp = 0, txb = 0, drops = 0, errors = 0;
  if (e.vhost) {
    const auto& dev = e.vhost->device();
    auto qps = dev.stats();
    for (size_t q = 0; q < qps.size(); ++q) {
      const auto& from_guest = qps[q].tx;  // guest TX ring: into the switch
      const auto& to_guest = qps[q].rx;    // guest RX ring: out of the switch
      uint64_t qd = from_guest.total_drops() + to_guest.total_drops();
      uint64_t qe = from_guest.ring_errors + to_guest.ring_errors;
      Json qj = queue_json(static_cast<uint16_t>(q), from_guest.packets, from_guest.bytes, to_guest.packets,
                           to_guest.bytes, qd, qe);
      qj["kicks"] = from_guest.kicks + to_guest.kicks;
      qj["calls"] = from_guest.calls + to_guest.calls;
      qj["empty_polls"] = from_guest.empty_polls + to_guest.empty_polls;
      qj["busy_polls"] = from_guest.busy_polls + to_guest.busy_polls;
      queues.push_back(qj);
      rxp += from_guest.packets, rxb += from_guest.bytes, txp += to_guest.packets, txb += to_guest.bytes;
      drops += qd, errors += qe;
      for (int r = 0; r < static_cast<int>(device::DropReason::count_); ++r) {
        auto reason = static_cast<device::DropReason>(r);
        add_to(drop_reasons, std::string("rx_") + device::to_string(reason), from_guest.drop(reason));
        add_to(drop_reasons, std::string("tx_") + device::to_string(reason), to_guest.drop(reason));
      }
      for (const auto* s : {&from_guest, &to_guest})
        if (s->last_ring_error != virtio::RingError::none) error_reasons[virtio::to_string(s->last_ring_error)] = s->ring_errors;
    }
  } else {
    for (uint16_t q = 0; q < e.tap->configured_queues(); ++q) {
      auto s = e.tap->queue_stats(q);
      uint64_t qe = 0;
      for (size_t k = 0; k < kTapErrorKinds; ++k) qe += s.read_errors[k] + s.write_errors[k];
      uint64_t qd = s.tx_drops_total() + s.rx_drops_total();
      queues.push_back(queue_json(q, s.rx_packets, s.rx_bytes, s.tx_packets, s.tx_bytes, qd, qe));
      rxp += s.rx_packets, rxb += s.rx_bytes, txp += s.tx_packets, txb += s.tx_bytes, drops += qd, errors += qe;
      for (size_t k = 0; k < ports::kTapTxDropKinds; ++k) add_to(drop_reasons, std::string("tx_") + ports::to_string(static_cast<ports::TapTxDrop>(k)), s.tx_drops[k]);
      for (size_t k = 0; k < ports::kTapRxDropKinds; ++k) add_to(drop_reasons, std::string("rx_") + ports::to_string(static_cast<ports::TapRxDrop>(k)), s.rx_drops[k]);
      for (size_t k = 0; k < kTapErrorKinds; ++k) {
        add_to(error_reasons, std::string("read_") + ports::to_string(static_cast<ports::TapErrorKind>(k)), s.read_errors[k]);
        add_to(error_reasons, std::string("write_") + ports::to_string(static_cast<ports::TapErrorKind>(k)), s.write_errors[k]);
      }
    }
  }
  // What the bridge dropped or flooded for this port.
  Json bridge = Json::object();
  for (const auto& info : e.bridge->ports()) {
    if (info.name != e.spec.name && info.name != e.port()->name()) continue;
    const auto& c = info.counters;
    bridge["flooded"] = c.flooded;
    bridge["learned"] = c.learned;
    bridge["moved"] = c.moved;
    bridge["fdb_entries"] = info.fdb_entries;
    for (size_t r = 0; r < sw::kDropReasons; ++r) {
      bridge[std::string("drop_") + std::string(sw::to_string(static_cast<sw::DropReason>(r)))] = c.drops[r];
      drops += c.drops[r];
      add_to(drop_reasons, std::string("switch_") + std::string(sw::to_string(static_cast<sw::DropReason>(r))), c.drops[r]);
    }
    for (size_t f = 0; f < sw::kLearnFailures; ++f)
      bridge[std::string("learn_fail_") + std::string(sw::to_string(static_cast<sw::LearnFailure>(f)))] = c.learn_failures[f];
  }
  return {{"name", e.spec.name}, {"type", to_string(e.spec.kind)}, {"rx_packets", rxp}, {"rx_bytes", rxb},
          {"tx_packets", txp}, {"tx_bytes", txb}, {"drops", drops}, {"errors", errors}, {"drop_reasons", drop_reasons},
          {"error_reasons", error_reasons}, {"bridge", bridge}, {"queues", queues}};
}

}  // namespace vnet::ctl
