#include "apps/vnet_perf/worker.h"

#include <algorithm>
#include <cstring>
#include <ctime>

#include <thread>

#include "base/cpu.h"

namespace vnet::perf {

using driver::PollMode;
using driver::RxFrame;
using driver::TxStatus;

namespace {
constexpr size_t kMaxLatencySamples = 8u << 20;

void note_time(std::atomic<uint64_t>& first, std::atomic<uint64_t>& last, uint64_t now) {
  if (first.load(std::memory_order_relaxed) == 0) first.store(now, std::memory_order_relaxed);
  last.store(now, std::memory_order_relaxed);
}
}  // namespace

class Worker::Sink : public driver::RxSink {
 public:
  explicit Sink(Worker& w) : w_(w) {}
  void on_frame(const RxFrame& f) override { w_.on_rx(f); }

 private:
  Worker& w_;
};

Worker::Worker(const Options& o, driver::VirtioNetDriver& drv, uint16_t qp, uint64_t tx_quota, const std::atomic<bool>& stop,
               const std::atomic<bool>& link_lost)
    : o_(o),
      drv_(drv),
      qp_(qp),
      rx_(drv.rx(qp)),
      tx_(drv.tx(qp)),
      fb_(o.src_mac, o.dst_mac, o.flows, o.size),
      tx_quota_(tx_quota),
      limited_(o.count != 0),
      stop_(stop),
      link_lost_(link_lost),
      rate_per_queue_(o.rate ? static_cast<double>(o.rate) / drv.queue_pairs() : 0),
      scratch_(kMaxFrame + 64) {
  if (o.mode == Mode::pingpong) lat_.reserve(std::min<size_t>(kMaxLatencySamples, o.rate ? static_cast<size_t>(o.rate * o.duration) + 1024 : 1u << 20));
}

void Worker::run() {
  switch (o_.mode) {
    case Mode::tx: run_tx_rx(true, false); break;
    case Mode::rx: run_tx_rx(false, true); break;
    case Mode::bidir: run_tx_rx(true, true); break;
    case Mode::fwd: run_fwd(); break;
    case Mode::pingpong: run_pingpong(); break;
  }
  stats_.done.store(true, std::memory_order_relaxed);
}

uint32_t Worker::allowance(uint64_t now) {
  if (rate_per_queue_ <= 0) return o_.burst;
  if (rate_start_ns_ == 0) rate_start_ns_ = now;
  const double due = static_cast<double>(now - rate_start_ns_) * 1e-9 * rate_per_queue_;
  const uint64_t sent = seq_;
  if (due <= static_cast<double>(sent)) return 0;
  return static_cast<uint32_t>(std::min<double>(o_.burst, due - static_cast<double>(sent)));
}

void Worker::sleep_until_due() {
  const double next = static_cast<double>(rate_start_ns_) + static_cast<double>(seq_ + 1) * 1e9 / rate_per_queue_;
  const double now = static_cast<double>(monotonic_ns());
  if (next <= now) return;
  const auto ns = static_cast<long>(std::min(next - now, 1e6));  // at most 1 ms: stay responsive to stop
  timespec ts{0, ns};
  ::nanosleep(&ts, nullptr);
}

uint32_t Worker::send_burst(uint32_t n) {
  if (limited_ && seq_ + n > tx_quota_) n = static_cast<uint32_t>(tx_quota_ - seq_);
  uint32_t sent = 0;
  uint64_t now = 0;
  for (; sent < n; ++sent) {
    auto area = tx_.reserve();
    if (area.empty()) break;
    if (now == 0) now = monotonic_ns();  // one timestamp per burst, none while the ring is full
    fb_.build(area.data(), qp_, seq_, now);
    if (tx_.commit({}, o_.size) != TxStatus::ok) break;
    ++seq_;
  }
  if (sent) {
    tx_.flush();
    stats_.tx_packets.add(sent);
    stats_.tx_bytes.add(uint64_t{sent} * o_.size);
    note_time(stats_.tx_first_ns, stats_.tx_last_ns, now);
  }
  return sent;
}

void Worker::on_rx(const RxFrame& f) {
  stats_.rx_packets.add();
  stats_.rx_bytes.add(f.len);
  // A frame in one segment is checked in place; a mergeable chain is copied first.
  std::span<const uint8_t> bytes;
  if (f.nsegs == 1) {
    bytes = {f.segs[0].data, f.len};
  } else {
    const size_t n = f.copy_to(scratch_.data(), scratch_.size());
    bytes = {scratch_.data(), n};
  }
  PerfHeader h;
  if (o_.mode == Mode::pingpong) {
    if (!read_perf_header(bytes, h)) {
      stats_.foreign.add();
      return;
    }
    if (h.stream == qp_ && ping_outstanding_ && h.seq == ping_seq_) {
      const uint64_t now = monotonic_ns();
      if (lat_.size() < lat_.capacity()) lat_.push_back(now - h.tx_ns);
      stats_.ping_replies.add();
      ping_outstanding_ = false;
      ++ping_seq_;
    }
    return;
  }
  switch (check_frame(bytes, h)) {
    case CheckResult::foreign: stats_.foreign.add(); return;
    // A damaged frame's sequence number cannot be trusted (a flipped high bit would look like a
    // huge gap): it counts as corrupt, and as lost unless its sequence number arrives intact.
    case CheckResult::corrupt: stats_.corrupt.add(); return;
    case CheckResult::ok: break;
  }
  if (!seqs_.on_frame(h.stream, h.seq)) stats_.foreign.add();
}

void Worker::drain_tx() {
  // Give the back-end a moment to take what we queued before the connection goes away.
  const uint64_t until = monotonic_ns() + 2'000'000'000ull;
  while (tx_.in_flight() > 0 && monotonic_ns() < until && !tx_.broken() && !link_lost_.load(std::memory_order_relaxed)) {
    tx_.flush();
    if (tx_.reclaim() == 0) {
      if (o_.interrupt) tx_.wait_space(10);
      else std::this_thread::yield();
    }
  }
}

void Worker::run_tx_rx(bool do_tx, bool do_rx) {
  Sink sink(*this);
  bool tx_done = !do_tx;
  while (!stopping()) {
    bool busy = false;
    if (!tx_done) {
      // The clock is read only when a rate applies: on some VMs clock_gettime costs ~1 us.
      const uint32_t want = rate_per_queue_ > 0 ? allowance(monotonic_ns()) : o_.burst;
      if (want) busy |= send_burst(want) > 0;
      if (limited_ && seq_ >= tx_quota_) {
        drain_tx();
        tx_done = true;
        if (!do_rx) break;
      }
    }
    if (do_rx) {
      const int n = rx_.poll(static_cast<int>(o_.burst), sink, o_.interrupt ? PollMode::interrupt : PollMode::busy);
      if (n > 0) {
        note_time(stats_.rx_first_ns, stats_.rx_last_ns, monotonic_ns());
        busy = true;
      }
    }
    if (!busy && o_.interrupt) {
      // Sleep until the device signals (RX frames, or TX space when the ring is full) or the
      // rate limit lets the next frame go.
      if (!tx_done && tx_.stopped()) {
        tx_.wait_space(10);
      } else if (do_rx) {
        rx_.wait(tx_done ? 100 : 1);
      } else if (rate_per_queue_ > 0) {
        tx_.reclaim();
        sleep_until_due();
      }
    } else if (!busy && !tx_done && tx_.stopped()) {
      tx_.reclaim();
    }
  }
  if (do_tx && !tx_done) drain_tx();
}

void Worker::run_fwd() {
  // Reflect every frame with MACs swapped; a full TX ring drops (counted), like testpmd.
  struct FwdSink : driver::RxSink {
    Worker& w;
    uint32_t pending = 0;
    explicit FwdSink(Worker& w) : w(w) {}
    void on_frame(const RxFrame& f) override {
      w.stats_.rx_packets.add();
      w.stats_.rx_bytes.add(f.len);
      auto area = w.tx_.reserve();
      if (area.empty() || f.len > area.size()) {
        w.stats_.fwd_drops.add();
        return;
      }
      const size_t n = f.copy_to(area.data(), area.size());
      if (n >= kEthLen) swap_macs(area.data());
      if (w.tx_.commit(virtio::NetHdr{}, static_cast<uint32_t>(n)) == TxStatus::ok) {
        w.stats_.tx_packets.add();
        w.stats_.tx_bytes.add(n);
        ++pending;
      } else {
        w.stats_.fwd_drops.add();
      }
    }
  } sink(*this);
  while (!stopping()) {
    const int n = rx_.poll(static_cast<int>(o_.burst), sink, o_.interrupt ? PollMode::interrupt : PollMode::busy);
    if (sink.pending) {
      tx_.flush();
      sink.pending = 0;
    }
    if (n > 0) {
      note_time(stats_.rx_first_ns, stats_.rx_last_ns, monotonic_ns());
    } else {
      tx_.reclaim();
      if (o_.interrupt) rx_.wait(100);
    }
  }
  drain_tx();
}

void Worker::run_pingpong() {
  Sink sink(*this);
  // On stop the last ping still gets its reply time (at most --ping-timeout): a run ended by
  // --duration would otherwise report the ping in flight at that moment as lost.
  const auto ping_timeout_ns = static_cast<uint64_t>(o_.ping_timeout * 1e9);
  while (!stopping() || ping_outstanding_) {
    const uint64_t now = monotonic_ns();
    if (ping_outstanding_ && now - ping_sent_ns_ > ping_timeout_ns) {
      stats_.ping_timeouts.add();
      ping_outstanding_ = false;
      ++ping_seq_;
    }
    const bool stop = stopping();
    if (stop && !ping_outstanding_) break;
    const bool rate_ok = rate_per_queue_ <= 0 || static_cast<double>(now - rate_start_ns_) * 1e-9 * rate_per_queue_ >= static_cast<double>(ping_seq_);
    if (!stop && !ping_outstanding_ && rate_ok && (!limited_ || ping_seq_ < tx_quota_)) {
      if (rate_start_ns_ == 0) rate_start_ns_ = now;
      auto area = tx_.reserve();
      if (!area.empty()) {
        fb_.build(area.data(), qp_, ping_seq_, now);
        if (tx_.commit({}, o_.size) == TxStatus::ok) {
          tx_.flush();
          ping_outstanding_ = true;
          ping_sent_ns_ = now;
          stats_.ping_sent.add();
          stats_.tx_packets.add();
          stats_.tx_bytes.add(o_.size);
          note_time(stats_.tx_first_ns, stats_.tx_last_ns, now);
        }
      }
    } else if (limited_ && ping_seq_ >= tx_quota_ && !ping_outstanding_) {
      break;
    }
    const int n = rx_.poll(static_cast<int>(o_.burst), sink, o_.interrupt ? PollMode::interrupt : PollMode::busy);
    if (n > 0) note_time(stats_.rx_first_ns, stats_.rx_last_ns, monotonic_ns());
    tx_.reclaim();
    if (n == 0 && o_.interrupt && ping_outstanding_) rx_.wait(1);
  }
}

}  // namespace vnet::perf
