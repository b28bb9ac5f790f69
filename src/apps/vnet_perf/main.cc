// vnet-perf: drives the userspace virtio-net driver against a vhost-user back-end and measures
// what comes through. See options.cc for the command line, worker.cc for the modes.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "apps/vnet_perf/link_watch.h"
#include "apps/vnet_perf/options.h"
#include "apps/vnet_perf/report.h"
#include "apps/vnet_perf/worker.h"
#include "base/cpu.h"
#include "base/log.h"
#include "driver/frontend_link.h"

using namespace vnet;
using namespace vnet::perf;

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_link_lost{false};
extern "C" void on_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

struct Totals {
  uint64_t tx_packets = 0, tx_bytes = 0, tx_full = 0, rx_packets = 0, rx_bytes = 0, corrupt = 0, foreign = 0, fwd_drops = 0, ping_sent = 0, ping_replies = 0, ping_timeouts = 0;
  uint64_t rx_first = 0, rx_last = 0, tx_first = 0, tx_last = 0;
  bool all_done = true;
};

Totals sum(const std::vector<std::unique_ptr<Worker>>& ws) {
  Totals t;
  for (const auto& w : ws) {
    const WorkerStats& s = w->stats();
    t.tx_packets += s.tx_packets.get();
    t.tx_bytes += s.tx_bytes.get();
    t.rx_packets += s.rx_packets.get();
    t.rx_bytes += s.rx_bytes.get();
    t.corrupt += s.corrupt.get();
    t.foreign += s.foreign.get();
    t.fwd_drops += s.fwd_drops.get();
    t.ping_sent += s.ping_sent.get();
    t.ping_replies += s.ping_replies.get();
    t.ping_timeouts += s.ping_timeouts.get();
    auto mn = [](uint64_t a, uint64_t b) { return a == 0 ? b : (b == 0 ? a : std::min(a, b)); };
    t.rx_first = mn(t.rx_first, s.rx_first_ns.load(std::memory_order_relaxed));
    t.tx_first = mn(t.tx_first, s.tx_first_ns.load(std::memory_order_relaxed));
    t.rx_last = std::max(t.rx_last, s.rx_last_ns.load(std::memory_order_relaxed));
    t.tx_last = std::max(t.tx_last, s.tx_last_ns.load(std::memory_order_relaxed));
    t.all_done = t.all_done && s.done.load(std::memory_order_relaxed);
  }
  return t;
}

// Driver-side error counters over all queues.
struct DriverErrors {
  uint64_t rx_drops = 0, rx_length = 0, rx_frame = 0, ring = 0, tx_drops = 0, tx_full = 0, kicks = 0, interrupts = 0;
};
DriverErrors driver_errors(const driver::VirtioNetDriver& d) {
  DriverErrors e;
  for (uint16_t q = 0; q < d.queue_pairs(); ++q) {
    const auto& r = d.rx(q).stats();
    const auto& t = d.tx(q).stats();
    e.rx_drops += r.drops.get();
    e.rx_length += r.length_errors();
    e.rx_frame += r.frame_errors();
    e.ring += r.ring_errors.get() + t.ring_errors.get();
    e.tx_drops += t.drops.get();
    e.tx_full += t.ring_full.get();
    e.kicks += r.kicks.get() + t.kicks.get();
    e.interrupts += r.interrupts.get() + t.interrupts.get();
  }
  return e;
}

// Sequence accounting over all queues: a stream may arrive spread over several of them.
StreamLoss sequence_loss(const std::vector<std::unique_ptr<Worker>>& ws, uint64_t expected_total, uint64_t untracked) {
  std::vector<const SequenceTracker*> qs;
  for (const auto& w : ws) qs.push_back(&w->sequences());
  return stream_loss(qs, expected_total, untracked);
}

double rate(uint64_t n, uint64_t first, uint64_t last) {
  if (n < 2 || last <= first) return 0;
  return static_cast<double>(n - 1) / (static_cast<double>(last - first) * 1e-9);
}

}  // namespace

int main(int argc, char** argv) {
  int code = 0;
  auto opts = parse_options(argc, argv, &code);
  if (!opts) return code;
  const Options& o = *opts;
  log::set_level(log::Level::warn);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  const auto cfg = driver_config(o);
  const std::string& path = o.connect_path.empty() ? o.listen_path : o.connect_path;
  auto cant = [&](const std::string& why) {
    std::fprintf(stderr, "vnet-perf: cannot bring up the virtio-net device on %s: %s\n", path.c_str(), why.c_str());
    return 1;
  };
  if (auto v = driver::validate(cfg); !v) return cant(v.error().message());
  auto link = o.connect_path.empty() ? driver::FrontendLink::accept_one(path, cfg.timeout) : driver::FrontendLink::connect(path, cfg.timeout);
  if (!link) return cant(link.error().message());
  // The driver owns the link (and its socket) until d.stop(); the watch only polls the fd.
  LinkWatch watch(link.value()->socket_fd());
  auto drv = driver::VirtioNetDriver::start(std::move(link).value(), cfg);
  if (!drv) return cant(drv.error().message());
  auto& d = *drv.value();
  if (!o.quiet) std::fprintf(stderr, "vnet-perf: %s\n", d.describe().c_str());
  if (o.size > d.max_tx_frame() && o.mode != Mode::rx) {
    std::fprintf(stderr, "vnet-perf: --size %u exceeds the largest frame the device takes (%u)\n", o.size, d.max_tx_frame());
    return 2;
  }

  const uint16_t nq = d.queue_pairs();
  std::vector<std::unique_ptr<Worker>> workers;
  for (uint16_t q = 0; q < nq; ++q) {
    uint64_t quota = 0;
    if (o.count && (o.mode == Mode::tx || o.mode == Mode::bidir || o.mode == Mode::pingpong))
      quota = o.count / nq + (q < o.count % nq ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(o, d, q, quota, g_stop, g_link_lost));
  }
  std::vector<std::thread> threads;
  const uint64_t t0 = monotonic_ns();
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });

  const uint64_t end = t0 + static_cast<uint64_t>(o.duration * 1e9);
  uint64_t next_progress = t0 + 1'000'000'000ull;
  Totals last{};
  uint64_t last_t = t0;
  bool hung_up = false;
  uint64_t hung_up_at = 0;
  while (!g_stop.load(std::memory_order_relaxed)) {
    if (watch.wait_hangup(10)) {
      hung_up = true;
      hung_up_at = monotonic_ns();
      g_link_lost.store(true, std::memory_order_relaxed);  // set before g_stop: no TX drain
      break;
    }
    // The clock is read after the workers' timestamps: a frame a worker stamped after `now`
    // would otherwise make now - rx_last wrap around and look like an idle timeout.
    const Totals t = sum(workers);
    const uint64_t now = monotonic_ns();
    if (now >= end) break;
    if (t.all_done) break;
    if (o.count && (o.mode == Mode::rx || o.mode == Mode::fwd) && t.rx_packets >= o.count) break;
    if (o.count && o.mode == Mode::bidir && t.tx_packets >= o.count && t.rx_packets >= o.count) break;
    if (o.idle_timeout > 0 && t.rx_last && now > t.rx_last && now - t.rx_last > static_cast<uint64_t>(o.idle_timeout * 1e9)) break;
    if (now >= next_progress) {
      const double dt = static_cast<double>(now - last_t) * 1e-9;
      if (!o.quiet) {
        const StreamLoss sl = sequence_loss(workers, 0, 0);
        std::fprintf(stderr, "[%6.1fs] tx %.3f Mpps %.3f Gbps | rx %.3f Mpps %.3f Gbps | lost %llu corrupt %llu fwd_drops %llu\n",
                     static_cast<double>(now - t0) * 1e-9, static_cast<double>(t.tx_packets - last.tx_packets) / dt / 1e6,
                     static_cast<double>(t.tx_bytes - last.tx_bytes) * 8 / dt / 1e9,
                     static_cast<double>(t.rx_packets - last.rx_packets) / dt / 1e6,
                     static_cast<double>(t.rx_bytes - last.rx_bytes) * 8 / dt / 1e9, static_cast<unsigned long long>(sl.lost),
                     static_cast<unsigned long long>(t.corrupt), static_cast<unsigned long long>(t.fwd_drops));
      }
      last = t;
      last_t = now;
      next_progress += 1'000'000'000ull;
    }
  }
  g_stop.store(true);
  for (auto& th : threads) th.join();
  const uint64_t t_end = monotonic_ns();
  if (hung_up) {
    std::fprintf(stderr, "vnet-perf: the back-end on %s hung up (closed the vhost-user connection) %.1f s into the run\n",
                 path.c_str(), static_cast<double>(hung_up_at - t0) * 1e-9);
  }
  const Totals t = sum(workers);
  const DriverErrors de = driver_errors(d);

  std::vector<uint64_t> lat;
  for (auto& w : workers) lat.insert(lat.end(), w->latencies().begin(), w->latencies().end());
  std::sort(lat.begin(), lat.end());

  const double tx_pps = rate(t.tx_packets, t.tx_first, t.tx_last);
  const double rx_pps = rate(t.rx_packets, t.rx_first, t.rx_last);
  const double tx_gbps = t.tx_packets ? tx_pps * (static_cast<double>(t.tx_bytes) / static_cast<double>(t.tx_packets)) * 8 / 1e9 : 0;
  const double rx_gbps = t.rx_packets ? rx_pps * (static_cast<double>(t.rx_bytes) / static_cast<double>(t.rx_packets)) * 8 / 1e9 : 0;
  const bool rx_main = o.mode == Mode::rx || o.mode == Mode::fwd;
  const uint64_t errors = t.corrupt + de.rx_drops + de.ring + de.tx_drops;
  // What the peer sent is known at the end when --count told both sides (rx: the count to
  // receive, bidir: each side sends it); then frames missing after the last arrival count too.
  // Pingpong knows its own pings: every ping without its reply is lost.
  const uint64_t expected = (o.mode == Mode::rx || o.mode == Mode::bidir) ? o.count : 0;
  const StreamLoss sl = sequence_loss(workers, expected, t.foreign + t.corrupt);
  const uint64_t lost = o.mode == Mode::pingpong ? t.ping_sent - t.ping_replies : sl.lost;

  Figures f;
  f.add("mode", std::string(to_string(o.mode)));
  f.add("queues", uint64_t{nq});
  // Receivers report the average size they saw (the frames are the sender's choice).
  f.add("size", rx_main ? (t.rx_packets ? t.rx_bytes / t.rx_packets : uint64_t{0}) : uint64_t{o.size});
  f.add("flows", uint64_t{o.flows});
  f.add("duration", static_cast<double>(t_end - t0) * 1e-9);
  f.add("pps", rx_main ? rx_pps : (o.mode == Mode::bidir ? tx_pps + rx_pps : tx_pps));
  f.add("gbps", rx_main ? rx_gbps : (o.mode == Mode::bidir ? tx_gbps + rx_gbps : tx_gbps));
  f.add("tx_packets", t.tx_packets);
  f.add("tx_bytes", t.tx_bytes);
  f.add("tx_pps", tx_pps);
  f.add("tx_gbps", tx_gbps);
  f.add("rx_packets", t.rx_packets);
  f.add("rx_bytes", t.rx_bytes);
  f.add("rx_pps", rx_pps);
  f.add("rx_gbps", rx_gbps);
  f.add("errors", errors);
  f.add("lost", lost);
  f.add("reordered", sl.reordered);
  f.add("corrupt", t.corrupt);
  f.add("foreign", t.foreign);
  f.add("tx_ring_full", de.tx_full);
  f.add("fwd_drops", t.fwd_drops);
  f.add("rx_length_errors", de.rx_length);
  f.add("rx_frame_errors", de.rx_frame);
  f.add("ring_errors", de.ring);
  f.add("kicks", de.kicks);
  f.add("interrupts", de.interrupts);
  if (o.mode == Mode::pingpong) {
    f.add("pings", t.ping_sent);
    f.add("replies", t.ping_replies);
    f.add("lat_p50_us", static_cast<double>(percentile(lat, 50)) / 1e3);
    f.add("lat_p99_us", static_cast<double>(percentile(lat, 99)) / 1e3);
    f.add("lat_p999_us", static_cast<double>(percentile(lat, 99.9)) / 1e3);
    f.add("lat_max_us", static_cast<double>(lat.empty() ? 0 : lat.back()) / 1e3);
  }
  std::printf("%s\n", o.json ? f.json().c_str() : f.result_line().c_str());
  std::fflush(stdout);
  // Over a closed connection stop() can only fail (and say so); closing our end is all it does.
  if (hung_up) log::set_level(log::Level::error);
  (void)d.stop();
  return hung_up ? 1 : 0;
}
