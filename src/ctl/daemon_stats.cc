// `vnetctl stats`: per port and queue counters as JSON. rx/tx are seen from the switch, as in
// Open vSwitch: rx = frames the port brought into the switch (a guest's TX ring, frames the
// kernel wrote to the tap), tx = frames the switch delivered out of the port. The same holds
// for every rx_/tx_ prefixed key (rx_kicks = kicks of the guest's TX ring, tx_calls =
// interrupts for its RX ring).
//
// Keys are stable and only ever added: scripts (tests/e2e/*.sh) parse them. Every reason key
// is present even when zero, so a script can read it without checking whether it exists.
//   port:  name type rx_packets rx_bytes tx_packets tx_bytes drops errors sw_checksums
//          sw_gso_frames sw_segments drop_reasons{} error_reasons{} bridge{} queues[]
//   queue: queue rx_packets rx_bytes tx_packets tx_bytes drops errors sw_checksums
//          sw_gso_frames sw_segments drop_reasons{} error_reasons{}
//          vhost-user only: kicks calls empty_polls busy_polls (rx + tx) and
//          rx_kicks tx_kicks rx_calls tx_calls rx_empty_polls tx_empty_polls rx_busy_polls
//          tx_busy_polls
// A port's drops/drop_reasons add the bridge's drops for it (switch_*) to its queues'.
#include "ctl/daemon.h"

namespace vnet::ctl {
namespace {

constexpr size_t kTapErrorKinds = static_cast<size_t>(ports::TapErrorKind::count_);
constexpr int kDeviceDropReasons = static_cast<int>(device::DropReason::count_);

struct Totals {
  uint64_t rxp = 0, rxb = 0, txp = 0, txb = 0, drops = 0, errors = 0;
  uint64_t sw_checksums = 0, sw_gso_frames = 0, sw_segments = 0;
};

Json queue_json(uint16_t q, uint64_t rxp, uint64_t rxb, uint64_t txp, uint64_t txb, uint64_t drops, uint64_t errors) {
  return {{"queue", q}, {"rx_packets", rxp}, {"rx_bytes", rxb}, {"tx_packets", txp},
          {"tx_bytes", txb}, {"drops", drops}, {"errors", errors}};
}

void add_to(Json& reasons, const std::string& key, uint64_t v) {
  reasons[key] = reasons.value(key, uint64_t{0}) + v;
}

// Sums every per-queue reason into the port's object (keys are the same at both levels).
void merge_into(Json& port_reasons, const Json& queue_reasons) {
  for (const auto& [k, v] : queue_reasons.items()) add_to(port_reasons, k, v.get<uint64_t>());
}

Json vhost_queue(uint16_t q, const device::QueuePairStats& qp, Totals& t) {
  const auto& from_guest = qp.tx;  // guest TX ring: into the switch
  const auto& to_guest = qp.rx;    // guest RX ring: out of the switch
  uint64_t qd = from_guest.total_drops() + to_guest.total_drops();
  uint64_t qe = from_guest.ring_errors + to_guest.ring_errors;
  Json qj = queue_json(q, from_guest.packets, from_guest.bytes, to_guest.packets, to_guest.bytes, qd, qe);
  qj["kicks"] = from_guest.kicks + to_guest.kicks;
  qj["calls"] = from_guest.calls + to_guest.calls;
  qj["empty_polls"] = from_guest.empty_polls + to_guest.empty_polls;
  qj["busy_polls"] = from_guest.busy_polls + to_guest.busy_polls;
  qj["rx_kicks"] = from_guest.kicks;
  qj["tx_kicks"] = to_guest.kicks;
  qj["rx_calls"] = from_guest.calls;
  qj["tx_calls"] = to_guest.calls;
  qj["rx_empty_polls"] = from_guest.empty_polls;
  qj["tx_empty_polls"] = to_guest.empty_polls;
  qj["rx_busy_polls"] = from_guest.busy_polls;
  qj["tx_busy_polls"] = to_guest.busy_polls;
  // Software offloads are done on the way to the guest (its RX ring); the TX ring's are 0 but
  // are added so the key means "this queue pair" whatever the device later counts there.
  uint64_t csum = to_guest.sw_checksums + from_guest.sw_checksums;
  uint64_t gso = to_guest.sw_gso_frames + from_guest.sw_gso_frames;
  uint64_t segs = to_guest.sw_segments + from_guest.sw_segments;
  qj["sw_checksums"] = csum;
  qj["sw_gso_frames"] = gso;
  qj["sw_segments"] = segs;
  Json drop_reasons = Json::object();
  for (int r = 0; r < kDeviceDropReasons; ++r) {
    auto reason = static_cast<device::DropReason>(r);
    drop_reasons[std::string("rx_") + device::to_string(reason)] = from_guest.drop(reason);
    drop_reasons[std::string("tx_") + device::to_string(reason)] = to_guest.drop(reason);
  }
  qj["drop_reasons"] = std::move(drop_reasons);
  // A ring's errors under the name of its current breakage (the cause of earlier, repaired
  // breakages is not kept by the device).
  Json error_reasons = Json::object();
  for (const auto* s : {&from_guest, &to_guest})
    if (s->last_ring_error != virtio::RingError::none) add_to(error_reasons, virtio::to_string(s->last_ring_error), s->ring_errors);
  qj["error_reasons"] = std::move(error_reasons);
  t.rxp += from_guest.packets, t.rxb += from_guest.bytes, t.txp += to_guest.packets, t.txb += to_guest.bytes;
  t.drops += qd, t.errors += qe;
  t.sw_checksums += csum, t.sw_gso_frames += gso, t.sw_segments += segs;
  return qj;
}

Json tap_queue(uint16_t q, const ports::TapQueueStats& s, Totals& t) {
  uint64_t qe = 0;
  for (size_t k = 0; k < kTapErrorKinds; ++k) qe += s.read_errors[k] + s.write_errors[k];
  uint64_t qd = s.tx_drops_total() + s.rx_drops_total();
  Json qj = queue_json(q, s.rx_packets, s.rx_bytes, s.tx_packets, s.tx_bytes, qd, qe);
  // The kernel does a tap's offloads: vnetd never segments or checksums for it.
  qj["sw_checksums"] = 0;
  qj["sw_gso_frames"] = 0;
  qj["sw_segments"] = 0;
  Json drop_reasons = Json::object(), error_reasons = Json::object();
  for (size_t k = 0; k < ports::kTapTxDropKinds; ++k)
    drop_reasons[std::string("tx_") + ports::to_string(static_cast<ports::TapTxDrop>(k))] = s.tx_drops[k];
  for (size_t k = 0; k < ports::kTapRxDropKinds; ++k)
    drop_reasons[std::string("rx_") + ports::to_string(static_cast<ports::TapRxDrop>(k))] = s.rx_drops[k];
  for (size_t k = 0; k < kTapErrorKinds; ++k) {
    error_reasons[std::string("read_") + ports::to_string(static_cast<ports::TapErrorKind>(k))] = s.read_errors[k];
    error_reasons[std::string("write_") + ports::to_string(static_cast<ports::TapErrorKind>(k))] = s.write_errors[k];
  }
  qj["drop_reasons"] = std::move(drop_reasons);
  qj["error_reasons"] = std::move(error_reasons);
  t.rxp += s.rx_packets, t.rxb += s.rx_bytes, t.txp += s.tx_packets, t.txb += s.tx_bytes;
  t.drops += qd, t.errors += qe;
  return qj;
}

}  // namespace

Json Daemon::port_stats(const PortEntry& e) const {
  Json queues = Json::array();
  Json drop_reasons = Json::object(), error_reasons = Json::object();
  Totals t;
  if (e.vhost) {
    auto qps = e.vhost->device().stats();
    for (size_t q = 0; q < qps.size(); ++q) queues.push_back(vhost_queue(static_cast<uint16_t>(q), qps[q], t));
    // Stable keys at port level too, even for a device with no queue yet.
    for (int r = 0; r < kDeviceDropReasons; ++r) {
      auto reason = static_cast<device::DropReason>(r);
      add_to(drop_reasons, std::string("rx_") + device::to_string(reason), 0);
      add_to(drop_reasons, std::string("tx_") + device::to_string(reason), 0);
    }
  } else {
    for (uint16_t q = 0; q < e.tap->configured_queues(); ++q) queues.push_back(tap_queue(q, e.tap->queue_stats(q), t));
    for (size_t k = 0; k < ports::kTapTxDropKinds; ++k)
      add_to(drop_reasons, std::string("tx_") + ports::to_string(static_cast<ports::TapTxDrop>(k)), 0);
    for (size_t k = 0; k < ports::kTapRxDropKinds; ++k)
      add_to(drop_reasons, std::string("rx_") + ports::to_string(static_cast<ports::TapRxDrop>(k)), 0);
  }
  for (const auto& q : queues) {
    merge_into(drop_reasons, q.at("drop_reasons"));
    merge_into(error_reasons, q.at("error_reasons"));
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
      t.drops += c.drops[r];
      add_to(drop_reasons, std::string("switch_") + std::string(sw::to_string(static_cast<sw::DropReason>(r))), c.drops[r]);
    }
    for (size_t f = 0; f < sw::kLearnFailures; ++f)
      bridge[std::string("learn_fail_") + std::string(sw::to_string(static_cast<sw::LearnFailure>(f)))] = c.learn_failures[f];
  }
  return {{"name", e.spec.name},
          {"type", to_string(e.spec.kind)},
          {"rx_packets", t.rxp},
          {"rx_bytes", t.rxb},
          {"tx_packets", t.txp},
          {"tx_bytes", t.txb},
          {"drops", t.drops},
          {"errors", t.errors},
          {"sw_checksums", t.sw_checksums},
          {"sw_gso_frames", t.sw_gso_frames},
          {"sw_segments", t.sw_segments},
          {"drop_reasons", drop_reasons},
          {"error_reasons", error_reasons},
          {"bridge", bridge},
          {"queues", queues}};
}

}  // namespace vnet::ctl
