#include "driver/virtio_net_driver.h"

#include <fmt/format.h>

#include "base/eventfd.h"
#include "base/log.h"
#include "driver/frontend_link.h"
#include "virtio/net_hdr.h"
#include "virtio/ring_layout.h"

namespace vnet::driver {

using namespace virtio;

namespace {

constexpr uint32_t kVlanEthHeaderLen = 18;  // Ethernet + one 802.1Q tag
constexpr uint32_t kMaxTsoFrame = 65536;
constexpr uint16_t kTxIndirectMax = 2;      // header + frame

// The protocol features the driver can use; ANDed with the link's offer.
constexpr uint64_t kWantedProtocolFeatures = (uint64_t{1} << kProtoMq) | (uint64_t{1} << kProtoReplyAck) | (uint64_t{1} << kProtoMtu);

uint32_t round64(uint32_t v) { return static_cast<uint32_t>(align_up(v, 64)); }

}  // namespace

Status validate(const DriverConfig& c) {
  if (c.queue_pairs < 1 || c.queue_pairs > 128) return Error("queue_pairs must be 1..128");
  if (!is_valid_queue_size(c.queue_size) || c.queue_size < 2) return Error("queue_size must be a power of two in 2..32768");
  if (c.mtu < 68 || c.mtu > 9216) return Error("mtu must be 68..9216");
  if (c.mrg_buf_size < 256 || c.mrg_buf_size > 65536) return Error("mrg_buf_size must be 256..65536");
  if (c.timeout.count() <= 0) return Error("timeout must be positive");
  return {};
}

Result<std::unique_ptr<VirtioNetDriver>> VirtioNetDriver::connect(const std::string& path, const DriverConfig& cfg) {
  if (auto v = validate(cfg); !v) return v.error();
  auto link = FrontendLink::connect(path, cfg.timeout);
  if (!link) return link.error();
  return start(std::move(link).value(), cfg);
}

Result<std::unique_ptr<VirtioNetDriver>> VirtioNetDriver::listen(const std::string& path, const DriverConfig& cfg) {
  if (auto v = validate(cfg); !v) return v.error();
  auto link = FrontendLink::accept_one(path, cfg.timeout);
  if (!link) return link.error();
  return start(std::move(link).value(), cfg);
}

Result<std::unique_ptr<VirtioNetDriver>> VirtioNetDriver::start(std::unique_ptr<BackendLink> link, const DriverConfig& cfg) {
  if (auto v = validate(cfg); !v) return v.error();
  if (!link) return Error("no back-end link");
  std::unique_ptr<VirtioNetDriver> d(new VirtioNetDriver(std::move(link), cfg));
  if (auto s = d->negotiate(); !s) return s.error();
  if (auto s = d->build_queues(); !s) return s.error();
  if (auto s = d->start_rings(); !s) {
    (void)d->stop();
    return s.error();
  }
  log::info("virtio-net driver up: {}", d->describe());
  return d;
}

VirtioNetDriver::~VirtioNetDriver() { (void)stop(); }

Status VirtioNetDriver::negotiate() {
  auto offered = link_->get_features();
  if (!offered) return Error("GET_FEATURES: " + offered.error().message());
  const Features dev = offered.value();

  if (has(dev, kFProtocolFeatures)) {
    auto pf = link_->get_protocol_features();
    if (!pf) return Error("GET_PROTOCOL_FEATURES: " + pf.error().message());
    protocol_features_ = pf.value() & kWantedProtocolFeatures;
    if (auto s = link_->set_protocol_features(protocol_features_); !s)
      return Error("SET_PROTOCOL_FEATURES: " + s.error().message());
  }

  nqp_ = cfg_.queue_pairs;
  if (nqp_ > 1) {
    if (!has(dev, kNetFMq) || !(protocol_features_ & (uint64_t{1} << kProtoMq))) {
      log::warn("back-end has no multiqueue support: using 1 queue pair instead of {}", nqp_);
      nqp_ = 1;
    } else {
      auto qn = link_->get_queue_num();
      if (!qn) return Error("GET_QUEUE_NUM: " + qn.error().message());
      if (qn.value() < nqp_) {
        log::warn("back-end supports {} queue pairs: using that many instead of {}", qn.value(), nqp_);
        nqp_ = static_cast<uint16_t>(qn.value() == 0 ? 1 : qn.value());
      }
    }
  }

  if (auto s = link_->set_owner(); !s) return Error("SET_OWNER: " + s.error().message());

  Features want = bit(kFVersion1) | bit(kNetFMtu);
  if (cfg_.mrg_rxbuf) want |= bit(kNetFMrgRxbuf);
  if (cfg_.event_idx) want |= bit(kFRingEventIdx);
  if (cfg_.indirect_desc) want |= bit(kFRingIndirectDesc);
  if (nqp_ > 1) want |= bit(kNetFMq);
  if (cfg_.csum) want |= bit(kNetFCsum) | bit(kNetFGuestCsum);
  if (cfg_.host_tso) want |= bit(kNetFCsum) | bit(kNetFHostTso4) | bit(kNetFHostTso6);
  if (cfg_.host_uso) want |= bit(kNetFCsum) | bit(kNetFHostUso);
  features_ = dev & want;
  // A back-end that offers protocol features expects the bit back (QEMU always sets it).
  if (has(dev, kFProtocolFeatures)) features_ |= bit(kFProtocolFeatures);
  // TSO/USO need CSUM (5.1.3.1); without it drop those bits rather than send an invalid set.
  if (!has(features_, kNetFCsum))
    features_ &= ~(bit(kNetFHostTso4) | bit(kNetFHostTso6) | bit(kNetFHostUso) | bit(kNetFGuestCsum));
  if (auto s = link_->set_features(features_); !s) return Error("SET_FEATURES: " + s.error().message());
  hdr_len_ = net_hdr_size(features_);
  return {};
}

Status VirtioNetDriver::build_queues() {
  const uint16_t qs = cfg_.queue_size;
  const bool mrg = mergeable();
  const bool ind = indirect();
  const uint32_t rx_buf = mrg ? cfg_.mrg_buf_size : round64(hdr_len_ + cfg_.mtu + kVlanEthHeaderLen);
  const uint32_t max_tx_frame = has(features_, kNetFHostTso4) || has(features_, kNetFHostTso6) || has(features_, kNetFHostUso)
                                    ? kMaxTsoFrame
                                    : cfg_.mtu + kVlanEthHeaderLen;
  const uint32_t tx_slot = round64(hdr_len_ + max_tx_frame);
  const ContiguousLayout ring = contiguous_layout(qs);

  // Plan: per queue pair [RX ring][RX buffers][TX ring][TX indirect tables][TX slots].
  LayoutPlanner plan;
  struct QpPlace {
    size_t rx_ring, rx_bufs, tx_ring, tx_ind, tx_slots;
  };
  std::vector<QpPlace> qp(nqp_);
  for (auto& p : qp) {
    p.rx_ring = plan.place(ring.total, 4096);
    p.rx_bufs = plan.place(size_t{qs} * rx_buf, 4096);
    p.tx_ring = plan.place(ring.total, 4096);
    p.tx_ind = ind ? plan.place(size_t{qs} * kTxIndirectMax * sizeof(VringDesc), 64) : 0;
    p.tx_slots = plan.place(size_t{qs} * tx_slot, 4096);
  }
  auto mem = DriverMemory::create(plan.total());
  if (!mem) return Error("guest memory: " + mem.error().message());
  mem_ = std::move(mem).value();

  auto ring_cfg = [&](size_t base) {
    DriverRingConfig c;
    c.size = qs;
    c.desc = mem_->at(base + ring.desc_off);
    c.avail = mem_->at(base + ring.avail_off);
    c.used = mem_->at(base + ring.used_off);
    c.event_idx = event_idx();
    places_.push_back(RingPlace{base + ring.desc_off, base + ring.avail_off, base + ring.used_off});
    return c;
  };
  for (uint16_t i = 0; i < nqp_; ++i) {
    const QpPlace& p = qp[i];
    auto rk = make_eventfd(), rc = make_eventfd(), tk = make_eventfd(), tc = make_eventfd();
    if (!rk || !rc || !tk || !tc) return Error("eventfd: out of file descriptors");

    RxQueueSetup rs;
    rs.ring = ring_cfg(p.rx_ring);
    rs.buffers = mem_->at(p.rx_bufs);
    rs.buffers_gpa = mem_->gpa(p.rx_bufs);
    rs.buf_size = rx_buf;
    rs.mergeable = mrg;
    rs.hdr_len = hdr_len_;
    rs.features = features_;
    rs.kick = std::move(rk).value();
    rs.call = std::move(rc).value();
    rxqs_.push_back(std::make_unique<ReceiveQueue>(std::move(rs)));

    TxQueueSetup ts;
    ts.ring = ring_cfg(p.tx_ring);
    if (ind) {
      ts.ring.indirect = mem_->at(p.tx_ind);
      ts.ring.indirect_gpa = mem_->gpa(p.tx_ind);
      ts.ring.indirect_max = kTxIndirectMax;
    }
    ts.slots = mem_->at(p.tx_slots);
    ts.slots_gpa = mem_->gpa(p.tx_slots);
    ts.slot_size = tx_slot;
    ts.hdr_len = hdr_len_;
    ts.split_header = ind;
    ts.features = features_;
    ts.kick = std::move(tk).value();
    ts.call = std::move(tc).value();
    txqs_.push_back(std::make_unique<SendQueue>(std::move(ts)));
  }
  return {};
}

Status VirtioNetDriver::start_rings() {
  const MemRegionDesc region = mem_->region();
  if (auto s = link_->set_mem_table(std::span(&region, 1)); !s) return Error("SET_MEM_TABLE: " + s.error().message());
  if (has(features_, kNetFMtu) && (protocol_features_ & (uint64_t{1} << kProtoMtu))) {
    if (auto s = link_->net_set_mtu(cfg_.mtu); !s) return Error("NET_SET_MTU: " + s.error().message());
  }
  // RX buffers are posted before the rings start so that the back-end finds them at once.
  for (auto& q : rxqs_) q->fill();
  const bool need_enable = has(features_, kFProtocolFeatures);
  for (uint32_t v = 0; v < places_.size(); ++v) {
    const RingPlace& p = places_[v];
    const int kick = (v % 2 == 0) ? rxqs_[v / 2]->kick_fd() : txqs_[v / 2]->kick_fd();
    const int call = (v % 2 == 0) ? rxqs_[v / 2]->call_fd() : txqs_[v / 2]->call_fd();
    auto step = [&](const char* what, Status s) -> Status {
      if (!s) return Error(fmt::format("{} (vring {}): {}", what, v, s.error().message()));
      return {};
    };
    if (auto s = step("SET_VRING_NUM", link_->set_vring_num(v, cfg_.queue_size)); !s) return s;
    if (auto s = step("SET_VRING_BASE", link_->set_vring_base(v, 0)); !s) return s;
    if (auto s = step("SET_VRING_ADDR", link_->set_vring_addr(v, mem_->va(p.desc), mem_->va(p.used), mem_->va(p.avail))); !s) return s;
    if (auto s = step("SET_VRING_CALL", link_->set_vring_call(v, call)); !s) return s;
    if (auto s = step("SET_VRING_KICK", link_->set_vring_kick(v, kick)); !s) return s;
    if (need_enable) {
      if (auto s = step("SET_VRING_ENABLE", link_->set_vring_enable(v, true)); !s) return s;
    }
  }
  // One kick per RX ring: a kick-driven back-end that started the ring after our fill (and
  // ignored the avail idx) would otherwise never look at it.
  for (auto& q : rxqs_) eventfd_signal(q->kick_fd());
  return {};
}

Status VirtioNetDriver::stop() {
  if (!link_) return {};
  Status result;
  const bool need_enable = has(features_, kFProtocolFeatures);
  for (uint32_t v = 0; v < places_.size(); ++v) {
    if (need_enable) {
      if (auto s = link_->set_vring_enable(v, false); !s && result.ok()) result = Error("SET_VRING_ENABLE 0: " + s.error().message());
    }
    if (auto b = link_->get_vring_base(v); !b && result.ok()) result = Error("GET_VRING_BASE: " + b.error().message());
  }
  link_.reset();  // closes the connection: the back-end drops its mappings and fds
  if (!result) log::warn("virtio-net driver stop: {}", result.error().message());
  return result;
}

std::string VirtioNetDriver::describe() const {
  return fmt::format("features=0x{:x} protocol=0x{:x} mrg_rxbuf={} event_idx={} indirect={} queue_pairs={} queue_size={} mtu={} hdr_len={}",
                     features_, protocol_features_, mergeable() ? 1 : 0, event_idx() ? 1 : 0, indirect() ? 1 : 0,
                     queue_pairs(), cfg_.queue_size, cfg_.mtu, hdr_len_);
}

}  // namespace vnet::driver
