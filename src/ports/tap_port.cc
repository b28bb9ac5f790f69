#include "ports/tap_port.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <bit>
#include <cstring>

#include <fmt/format.h>

#include "base/log.h"
#include "offload/feature_needs.h"

namespace vnet::ports {

using dataplane::kBurstSize;
using dataplane::kEthHeaderCopy;
using dataplane::Packet;
using dataplane::TxItem;

namespace {
// The vnet header is read and written as a host-order NetHdr; TUNSETVNETLE makes the kernel use
// little-endian, so the two agree only on little-endian hosts (the ones vnet supports).
static_assert(std::endian::native == std::endian::little, "tap vnet header fields need byte swapping here");
constexpr uint32_t kEthHeader = 14;
constexpr auto kRelaxed = std::memory_order_relaxed;

void add(std::atomic<uint64_t>& c, uint64_t v) { c.store(c.load(kRelaxed) + v, kRelaxed); }

TapErrorKind classify(int err) {
  switch (err) {
    case EINVAL: return TapErrorKind::invalid;
    case ENOMEM:
    case ENOBUFS: return TapErrorKind::no_memory;
    case EIO: return TapErrorKind::link_down;
    case EBADFD:  // tun: our file was detached because the device was unregistered
    case ENODEV:
    case ENXIO: return TapErrorKind::device_gone;
    default: return TapErrorKind::other;
  }
}
}  // namespace

// Everything one queue needs on the hot path, allocated once at open.
struct TapPort::Queue {
  explicit Queue(int f) : fd(f), pool(std::make_unique_for_overwrite<uint8_t[]>(size_t{kBurstSize} * kSlot)) {}
  static constexpr size_t kSlot = (kTapRxBufferSize + 63) & ~size_t{63};
  uint8_t* slot(uint16_t i) { return pool.get() + size_t{i} * kSlot; }

  int fd;
  std::unique_ptr<uint8_t[]> pool;  // kBurstSize receive buffers
  HostSpan rx_spans[kBurstSize];
  FrameScratch scratch;
  iovec iov[kTapMaxIov];
  TapQueueCounters counters;
};

Result<std::unique_ptr<TapPort>> TapPort::open(const TapConfig& config, bool offloads) {
  auto dev = open_tap_device(config);
  if (!dev) return dev.error();
  int p[2];
  if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) return sys_error("tap " + dev->ifname + ": pipe");
  std::unique_ptr<TapPort> port(new TapPort(std::move(dev.value()), UniqueFd(p[0]), UniqueFd(p[1])));
  if (offloads) {
    // Kernels before 6.2 refuse the USO bits (EINVAL): fall back to checksum + TSO.
    Status st = port->set_offload(kTapOffloads);
    if (!st) st = port->set_offload(kTapOffloadsNoUso);
    if (!st) return Error(fmt::format("tap {}: {}", port->ifname_, st.error().message()));
  }
  log::info("tap {}: open, {} queue(s), vnet header {} bytes, offloads {:#x}", port->ifname_, port->queues_.size(),
            kTapVnetHdrSize, port->offloads());
  return port;
}

TapPort::TapPort(TapDevice dev, UniqueFd tomb_r, UniqueFd tomb_w)
    : ifname_(std::move(dev.ifname)), fds_(std::move(dev.fds)), tomb_r_(std::move(tomb_r)),
      tomb_w_(std::move(tomb_w)) {
  for (auto& fd : fds_) queues_.push_back(std::make_unique<Queue>(fd.get()));
}

TapPort::~TapPort() = default;

uint16_t TapPort::num_queues() const { return up() ? configured_queues() : 0; }

int TapPort::wait_fd(uint16_t q) const { return q < queues_.size() ? queues_[q]->fd : -1; }

bool TapPort::enable_notify(uint16_t q) {
  if (q >= queues_.size() || !up()) return false;
  // Level-triggered readiness: no re-arming needed, only a check for what arrived meanwhile.
  // POLLERR counts as work so that the caller's receive() finds out the device is gone.
  pollfd pfd{queues_[q]->fd, POLLIN, 0};
  return ::poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) != 0;
}

uint16_t TapPort::receive(uint16_t qi, Packet* out, uint16_t max) {
  if (qi >= queues_.size() || !up()) return 0;
  Queue& q = *queues_[qi];
  if (max > kBurstSize) max = kBurstSize;
  uint16_t n = 0;
  uint64_t bytes = 0;
  // Runts are dropped and their slot reused; the read budget keeps a flood of them from
  // holding the poll thread here.
  for (uint32_t reads = 0; n < max && reads < 2u * kBurstSize; ++reads) {
    uint8_t* buf = q.slot(n);
    ssize_t r = ::read(q.fd, buf, kTapRxBufferSize);
    if (r < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) on_error(q, Dir::read, errno);
      break;
    }
    if (static_cast<size_t>(r) < kTapVnetHdrSize + kEthHeader) {
      add(q.counters.rx_drops[static_cast<size_t>(TapRxDrop::runt)], 1);
      continue;  // the slot is reused for the next read
    }
    const uint32_t len = static_cast<uint32_t>(r) - kTapVnetHdrSize;
    uint8_t* frame = buf + kTapVnetHdrSize;
    Packet& p = out[n];
    std::memcpy(&p.hdr, buf, sizeof(p.hdr));
    p.hdr.num_buffers = 0;  // tun writes only the first 10 bytes; the rest is stale pool memory
    q.rx_spans[n] = HostSpan{frame, len};
    p.spans = &q.rx_spans[n];
    p.nspans = 1;
    p.offset = 0;
    p.len = len;
    const uint32_t eth = len < kEthHeaderCopy ? len : kEthHeaderCopy;
    std::memcpy(p.eth, frame, eth);
    if (eth < kEthHeaderCopy) std::memset(p.eth + eth, 0, kEthHeaderCopy - eth);
    p.tagged = len >= kEthHeaderCopy && frame[12] == 0x81 && frame[13] == 0x00;
    p.vlan = p.tagged ? static_cast<uint16_t>(((frame[14] << 8) | frame[15]) & 0x0fff) : dataplane::kVlanNone;
    bytes += len;
    ++n;
  }
  if (n != 0) {
    add(q.counters.rx_packets, n);
    add(q.counters.rx_bytes, bytes);
  }
  return n;
}

void TapPort::receive_done(uint16_t) {
  // The pool is reused by the next receive(); nothing to hand back to the kernel.
}

void TapPort::transmit(uint16_t qi, const TxItem* items, uint16_t n) {
  if (qi >= queues_.size()) {
    bad_queue_drops_.fetch_add(n, kRelaxed);  // any thread may get this wrong: no single writer
    return;
  }
  Queue& q = *queues_[qi];
  auto drop = [&q](TapTxDrop d, uint64_t count = 1) {
    add(q.counters.tx_drops[static_cast<size_t>(d)], count);
  };
  uint64_t sent = 0, bytes = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (!up()) {
      drop(TapTxDrop::port_down, n - i);
      break;
    }
    uint32_t niov = 0, frame_len = 0;
    switch (build_frame_iov(items[i], q.scratch, q.iov, kTapMaxIov, &niov, &frame_len)) {
      case FrameIovStatus::ok: break;
      case FrameIovStatus::too_many_spans: drop(TapTxDrop::too_many_spans); continue;
      case FrameIovStatus::short_spans:
      case FrameIovStatus::runt: drop(TapTxDrop::bad_packet); continue;
    }
    ssize_t w = ::writev(q.fd, q.iov, static_cast<int>(niov));
    if (w >= 0) {
      ++sent;
      bytes += frame_len;
      continue;
    }
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      drop(TapTxDrop::kernel_busy);
      continue;
    }
    if (!up()) {  // another thread found the device gone and re-pointed the fd meanwhile
      drop(TapTxDrop::port_down);
      continue;
    }
    switch (on_error(q, Dir::write, err)) {
      case TapErrorKind::link_down: drop(TapTxDrop::link_down); break;
      case TapErrorKind::device_gone: drop(TapTxDrop::port_down); break;
      default: drop(TapTxDrop::rejected); break;
    }
  }
  if (sent != 0) {
    add(q.counters.tx_packets, sent);
    add(q.counters.tx_bytes, bytes);
  }
}

TapErrorKind TapPort::on_error(Queue& q, Dir dir, int err) {
  const TapErrorKind kind = classify(err);
  auto& errors = dir == Dir::read ? q.counters.read_errors : q.counters.write_errors;
  add(errors[static_cast<size_t>(kind)], 1);
  if (!logged_[static_cast<int>(dir)][static_cast<size_t>(kind)].exchange(true, kRelaxed))
    log::warn("tap {}: {} error ({}): {} (logged once per kind; see counters)", ifname_,
              dir == Dir::read ? "read" : "write", to_string(kind), std::strerror(err));
  if (kind == TapErrorKind::device_gone) mark_device_gone(err);
  return kind;
}

void TapPort::mark_device_gone(int err) {
  TapPortState expected = TapPortState::up;
  if (!state_.compare_exchange_strong(expected, TapPortState::device_gone, std::memory_order_acq_rel))
    return;
  device_lost_.fetch_add(1, kRelaxed);
  // dup2 swaps the file behind each number atomically: a thread inside read/writev keeps the
  // old file until its call returns, later calls hit the quiet pipe, and the tap file's last
  // reference goes away, which removes it from every epoll set it was in.
  for (auto& fd : fds_) ::dup2(tomb_r_.get(), fd.get());
  log::error("tap {}: the device is gone ({}); port down", ifname_, std::strerror(err));
}

TapQueueStats TapPort::queue_stats(uint16_t q) const {
  return q < queues_.size() ? snapshot(queues_[q]->counters) : TapQueueStats{};
}

TapQueueStats TapPort::total_stats() const {
  TapQueueStats t;
  for (auto& q : queues_) t += snapshot(q->counters);
  t.tx_drops[static_cast<size_t>(TapTxDrop::bad_queue)] += bad_queue_drops_.load(kRelaxed);
  return t;
}

Status TapPort::set_offload(unsigned flags) {
  if (!up()) return Error("tap " + ifname_ + ": the device is gone");
  Status st = set_tap_offload(queues_[0]->fd, flags);
  if (st) offloads_.store(flags, kRelaxed);
  return st;
}

virtio::Features TapPort::dest_features() const { return offload::guest_features_from_tun_offloads(offloads()); }

}  // namespace vnet::ports
