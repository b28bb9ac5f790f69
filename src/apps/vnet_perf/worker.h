// One vnet-perf worker per queue pair: runs the chosen mode's loop on its own thread over the
// driver's RX and TX queue of that pair, counting into WorkerStats (relaxed counters the main
// thread reads for progress lines and the result). Sequence accounting of received frames is in
// a SequenceTracker per worker, combined over all workers by stream_loss().
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "apps/vnet_perf/frame_format.h"
#include "apps/vnet_perf/options.h"
#include "apps/vnet_perf/sequence_tracker.h"
#include "driver/queue_stats.h"
#include "driver/virtio_net_driver.h"

namespace vnet::perf {

using driver::Counter;

struct WorkerStats {
  Counter tx_packets, tx_bytes;
  Counter rx_packets, rx_bytes;
  Counter corrupt, foreign;
  Counter fwd_drops;
  Counter ping_sent, ping_replies, ping_timeouts;
  std::atomic<uint64_t> rx_first_ns{0}, rx_last_ns{0}, tx_first_ns{0}, tx_last_ns{0};
  std::atomic<bool> done{false};  // finished its own work (tx --count sent and completed)
};

class Worker {
 public:
  // stop: end the run; link_lost: the back-end hung up (nothing in flight will complete).
  Worker(const Options& o, driver::VirtioNetDriver& drv, uint16_t qp, uint64_t tx_quota, const std::atomic<bool>& stop,
         const std::atomic<bool>& link_lost);
  void run();
  const WorkerStats& stats() const { return stats_; }
  // Per-stream sequences of the frames this queue received (tx / rx / bidir modes).
  const SequenceTracker& sequences() const { return seqs_; }
  // Pingpong round-trip samples in ns (read after the thread joined).
  const std::vector<uint64_t>& latencies() const { return lat_; }

 private:
  class Sink;
  void run_tx_rx(bool do_tx, bool do_rx);
  void run_fwd();
  void run_pingpong();
  // Sends up to n frames; returns the number sent.
  uint32_t send_burst(uint32_t n);
  void drain_tx();
  void on_rx(const driver::RxFrame& f);
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }
  // Frames the rate limit allows now (burst size when unlimited).
  uint32_t allowance(uint64_t now);
  // Interrupt mode with --rate: sleeps until the next frame is due (at most 1 ms).
  void sleep_until_due();

  const Options& o_;
  driver::VirtioNetDriver& drv_;
  uint16_t qp_;
  driver::ReceiveQueue& rx_;
  driver::SendQueue& tx_;
  FrameBuilder fb_;
  uint64_t tx_quota_;  // frames this queue sends when limited_ (--count)
  bool limited_;
  const std::atomic<bool>& stop_;
  const std::atomic<bool>& link_lost_;
  uint64_t seq_ = 0;
  double rate_per_queue_;
  uint64_t rate_start_ns_ = 0;
  SequenceTracker seqs_;
  std::vector<uint8_t> scratch_;
  // pingpong
  uint64_t ping_seq_ = 0;
  bool ping_outstanding_ = false;
  uint64_t ping_sent_ns_ = 0;
  std::vector<uint64_t> lat_;
  WorkerStats stats_;
};

}  // namespace vnet::perf
