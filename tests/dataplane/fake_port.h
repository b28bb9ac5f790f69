// An in-memory dataplane::Port for tests and benchmarks: frames injected by the test are
// received by poll threads; transmitted frames are recorded (with VLAN edits applied) or just
// counted. It also checks the datapath's contract: receive/transmit never run concurrently on
// one queue, nothing touches a port after remove_port() returned (see detach()).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/eventfd.h"
#include "base/fd.h"
#include "dataplane/port.h"

namespace vnet::testing {

struct SentFrame {
  uint16_t queue;
  std::vector<uint8_t> bytes;
};

// Builds an Ethernet frame: dst, src, optional 802.1Q tag, ethertype 0x88b5, payload of
// `payload` bytes starting with a 32-bit sequence number.
inline std::vector<uint8_t> make_frame(uint64_t dst, uint64_t src, uint32_t seq, size_t payload = 46,
                                       int vid = -1) {
  std::vector<uint8_t> f;
  for (int i = 0; i < 6; ++i) f.push_back(static_cast<uint8_t>(dst >> (40 - 8 * i)));
  for (int i = 0; i < 6; ++i) f.push_back(static_cast<uint8_t>(src >> (40 - 8 * i)));
  if (vid >= 0) {
    f.push_back(0x81);
    f.push_back(0x00);
    f.push_back(static_cast<uint8_t>((vid >> 8) & 0x0f));
    f.push_back(static_cast<uint8_t>(vid));
  }
  f.push_back(0x88);
  f.push_back(0xb5);
  for (size_t i = 0; i < payload; ++i) f.push_back(static_cast<uint8_t>(i < 4 ? seq >> (24 - 8 * i) : i));
  return f;
}

inline uint32_t frame_seq(const std::vector<uint8_t>& f, bool tagged = false) {
  const size_t o = tagged ? 18 : 14;
  if (f.size() < o + 4) return ~0u;
  return uint32_t{f[o]} << 24 | uint32_t{f[o + 1]} << 16 | uint32_t{f[o + 2]} << 8 | f[o + 3];
}

// Shared by the ports of a single-poll-thread test: the longest run of packets one port's
// queue delivered before any other queue was polled (a "visit"), to check fairness budgets.
class VisitTracker {
 public:
  void on_receive(const void* port, uint16_t q, uint16_t n) {
    std::lock_guard l(mu_);
    if (port != last_port_ || q != last_q_) {
      last_port_ = port;
      last_q_ = q;
      run_ = 0;
    }
    run_ += n;
    auto& m = max_run_[port];
    m = std::max(m, run_);
  }
  uint64_t max_run(const void* port) {
    std::lock_guard l(mu_);
    return max_run_[port];
  }

 private:
  std::mutex mu_;
  const void* last_port_ = nullptr;
  uint16_t last_q_ = 0;
  uint64_t run_ = 0;
  std::map<const void*, uint64_t> max_run_;
};

class FakePort final : public dataplane::Port {
 public:
  static constexpr uint16_t kMaxQueues = 8;

  explicit FakePort(std::string name, uint16_t queues = 1, bool with_fds = true) : name_(std::move(name)) {
    nq_.store(queues);
    for (auto& q : q_) {
      if (with_fds) {
        auto fd = make_eventfd();
        if (fd) q.kick = std::move(fd.value());
        q.kick_fd.store(q.kick.get());
      }
    }
  }

  // --- test side ---
  void set_num_queues(uint16_t n) { nq_.store(std::min<uint16_t>(n, kMaxQueues)); }
  // When false, transmitted frames are only counted (benchmarks).
  void set_record(bool on) { record_ = on; }
  // After remove_port() returned: any further call is a contract violation.
  void detach() { detached_.store(true); }
  void set_visit_tracker(VisitTracker* t) { tracker_ = t; }
  // Like a vhost-user ring restart: the kick eventfd is replaced (closed first, so the new one
  // usually gets the same number) and the generation bumped.
  void replace_kick_fd(uint16_t q) {
    q_[q].kick.reset();
    auto fd = make_eventfd();
    if (fd) q_[q].kick = std::move(fd.value());
    // Poll threads read the number through the atomic (the UniqueFd is test-thread only).
    q_[q].kick_fd.store(q_[q].kick.get());
    generation_.fetch_add(1);
  }
  void attach() { detached_.store(false); }

  void inject(uint16_t q, std::vector<uint8_t> frame) {
    Queue& Q = q_[q];
    {
      std::lock_guard l(Q.mu);
      Q.pending.push_back(std::move(frame));
    }
    // After the push (ordered by Q.mu with enable_notify's check): kick only if armed.
    if (Q.notify.load() && Q.kick_fd.load() >= 0) {
      kicks_.fetch_add(1);
      eventfd_signal(Q.kick_fd.load());
    }
  }
  // Endless supply of copies of `frame` on queue q (count < 0) or `count` copies.
  void set_generator(uint16_t q, std::vector<uint8_t> frame, int64_t count = -1) {
    Queue& Q = q_[q];
    std::lock_guard l(Q.mu);
    Q.gen_frame = std::move(frame);
    Q.gen_left = count;
    Q.gen_on = true;
  }
  void stop_generator(uint16_t q) {
    std::lock_guard l(q_[q].mu);
    q_[q].gen_on = false;
  }

  std::vector<SentFrame> take_sent() {
    std::lock_guard l(sent_mu_);
    return std::exchange(sent_, {});
  }
  uint64_t sent_count() const { return sent_count_.load(); }
  uint64_t received_count() const { return received_count_.load(); }
  uint64_t violations() const { return violations_.load(); }
  uint64_t kicks() const { return kicks_.load(); }
  bool notify_enabled(uint16_t q) const { return q_[q].notify.load(); }
  size_t pending(uint16_t q) {
    std::lock_guard l(q_[q].mu);
    return q_[q].pending.size();
  }

  // --- dataplane::Port ---
  const std::string& name() const override { return name_; }
  uint16_t num_queues() const override { return nq_.load(); }

  uint16_t receive(uint16_t q, dataplane::Packet* out, uint16_t max) override {
    check_attached();
    if (q >= nq_.load()) return 0;
    Queue& Q = q_[q];
    if (Q.rx_busy.exchange(true)) violations_.fetch_add(1);
    uint16_t n = 0;
    {
      std::lock_guard l(Q.mu);
      max = std::min<uint16_t>(max, dataplane::kBurstSize);
      while (n < max && (Q.gen_on && Q.gen_left != 0)) {
        Q.spans[n] = HostSpan{Q.gen_frame.data(), static_cast<uint32_t>(Q.gen_frame.size())};
        if (Q.gen_left > 0) --Q.gen_left;
        ++n;
      }
      while (n < max && !Q.pending.empty()) {
        Q.inflight[n] = std::move(Q.pending.front());
        Q.pending.pop_front();
        Q.spans[n] = HostSpan{Q.inflight[n].data(), static_cast<uint32_t>(Q.inflight[n].size())};
        ++n;
      }
    }
    for (uint16_t i = 0; i < n; ++i) {
      dataplane::Packet& p = out[i];
      p = dataplane::Packet{};
      p.spans = &Q.spans[i];
      p.nspans = 1;
      p.len = Q.spans[i].len;
      std::memcpy(p.eth, Q.spans[i].data, std::min<uint32_t>(p.len, dataplane::kEthHeaderCopy));
    }
    received_count_.fetch_add(n, std::memory_order_relaxed);
    if (tracker_) tracker_->on_receive(this, q, n);
    if (n == 0) Q.rx_busy.store(false);
    return n;
  }

  void receive_done(uint16_t q) override {
    check_attached();
    if (q >= kMaxQueues) return;
    q_[q].rx_busy.store(false);
  }

  void transmit(uint16_t q, const dataplane::TxItem* items, uint16_t n) override {
    check_attached();
    if (q >= nq_.load()) return;
    Queue& Q = q_[q];
    if (Q.tx_busy.exchange(true)) violations_.fetch_add(1);
    if (record_) {
      std::vector<SentFrame> frames;
      for (uint16_t i = 0; i < n; ++i) frames.push_back(SentFrame{q, render(items[i])});
      std::lock_guard l(sent_mu_);
      for (auto& f : frames) sent_.push_back(std::move(f));
    }
    sent_count_.fetch_add(n, std::memory_order_relaxed);
    Q.tx_busy.store(false);
  }

  int wait_fd(uint16_t q) const override { return q < kMaxQueues ? q_[q].kick_fd.load() : -1; }

  uint64_t wait_fd_generation() const override { return generation_.load(); }

  bool enable_notify(uint16_t q) override {
    check_attached();
    if (q >= kMaxQueues) return false;
    Queue& Q = q_[q];
    Q.notify.store(true);
    std::lock_guard l(Q.mu);
    return !Q.pending.empty() || (Q.gen_on && Q.gen_left != 0);
  }
  void disable_notify(uint16_t q) override {
    check_attached();
    if (q < kMaxQueues) q_[q].notify.store(false);
  }

  // The frame as the destination would put it on the wire.
  static std::vector<uint8_t> render(const dataplane::TxItem& it) {
    const dataplane::Packet& p = *it.pkt;
    std::vector<uint8_t> b;
    uint32_t off = p.offset, left = p.len;
    for (uint16_t s = 0; s < p.nspans && left > 0; ++s) {
      if (off >= p.spans[s].len) {
        off -= p.spans[s].len;
        continue;
      }
      const uint32_t take = std::min(left, p.spans[s].len - off);
      b.insert(b.end(), p.spans[s].data + off, p.spans[s].data + off + take);
      left -= take;
      off = 0;
    }
    if (it.edit == dataplane::VlanEdit::push && b.size() >= 12) {
      const uint8_t tag[4] = {0x81, 0x00, static_cast<uint8_t>((it.vid >> 8) & 0x0f), static_cast<uint8_t>(it.vid)};
      b.insert(b.begin() + 12, tag, tag + 4);
    } else if (it.edit == dataplane::VlanEdit::pop && b.size() >= 16) {
      b.erase(b.begin() + 12, b.begin() + 16);
    }
    return b;
  }

 private:
  struct Queue {
    std::mutex mu;
    std::deque<std::vector<uint8_t>> pending;
    std::vector<uint8_t> inflight[dataplane::kBurstSize];
    HostSpan spans[dataplane::kBurstSize];
    std::vector<uint8_t> gen_frame;
    int64_t gen_left = 0;
    bool gen_on = false;
    std::atomic<bool> notify{false};
    std::atomic<bool> rx_busy{false}, tx_busy{false};
    UniqueFd kick;
    std::atomic<int> kick_fd{-1};
  };
  void check_attached() {
    if (detached_.load()) violations_.fetch_add(1);
  }

  std::string name_;
  std::atomic<uint16_t> nq_{1};
  bool record_ = true;
  VisitTracker* tracker_ = nullptr;
  Queue q_[kMaxQueues];
  std::atomic<bool> detached_{false};
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> violations_{0}, kicks_{0}, sent_count_{0}, received_count_{0};
  std::mutex sent_mu_;
  std::vector<SentFrame> sent_;
};

}  // namespace vnet::testing
