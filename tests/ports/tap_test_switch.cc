#include "tap_test_switch.h"

#include <poll.h>

#include <algorithm>

#include "base/eventfd.h"

namespace vnet::ports::testing {
namespace {

using dataplane::kBurstSize;
using dataplane::Packet;
using dataplane::TxItem;
using dataplane::VlanEdit;

UniqueFd eventfd_or_die() {
  auto e = make_eventfd();
  if (!e) std::abort();
  return std::move(e.value());
}

// Sleeps until one of the fds is readable, the stop fd fires, or 100 ms pass (a safety net
// only: wake-ups come from the fds).
void sleep_on(std::initializer_list<int> fds) {
  pollfd p[4];
  nfds_t n = 0;
  for (int fd : fds)
    if (fd >= 0 && n < 4) p[n++] = pollfd{fd, POLLIN, 0};
  ::poll(p, n, 100);
}

}  // namespace

TapWire::TapWire(TapPort& a, TapPort& b) : a_(a), b_(b), stop_fd_(eventfd_or_die()) {
  const uint16_t nq = std::min(a.configured_queues(), b.configured_queues());
  for (uint16_t q = 0; q < nq; ++q) threads_.emplace_back([this, q] { loop(q); });
}

void TapWire::stop() {
  stop_.store(true);
  eventfd_signal(stop_fd_.get());
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void TapWire::loop(uint16_t q) {
  Packet pkts[kBurstSize];
  TxItem items[kBurstSize];
  auto pass = [&](TapPort& from, TapPort& to, std::atomic<uint64_t>& handed) {
    uint16_t n = from.receive(q, pkts, kBurstSize);
    if (n == 0) return false;
    uint32_t longest = 0;
    for (uint16_t i = 0; i < n; ++i) {
      items[i] = TxItem{&pkts[i], VlanEdit::none, 0};
      longest = std::max(longest, pkts[i].len);
    }
    to.transmit(q, items, n);
    from.receive_done(q);
    handed.fetch_add(n);
    uint32_t cur = max_frame_.load();
    while (longest > cur && !max_frame_.compare_exchange_weak(cur, longest)) {
    }
    return true;
  };
  while (!stop_.load()) {
    bool busy = pass(a_, b_, to_b_);
    busy |= pass(b_, a_, to_a_);
    if (busy) continue;
    if (a_.enable_notify(q) || b_.enable_notify(q)) continue;
    sleep_on({a_.wait_fd(q), b_.wait_fd(q), stop_fd_.get()});
  }
}

TapHost::TapHost(TapPort& port, Mac mac, Ip4 ip)
    : port_(port), mac_(mac), ip_(ip), stop_fd_(eventfd_or_die()), wake_fd_(eventfd_or_die()) {
  thread_ = std::thread([this] { loop(); });
}

void TapHost::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  eventfd_signal(stop_fd_.get());
  thread_.join();
}

void TapHost::send_raw(std::vector<uint8_t> frame, VlanEdit edit, uint16_t vid) {
  {
    std::lock_guard lk(mu_);
    pending_.push_back(Out{std::move(frame), edit, vid});
  }
  eventfd_signal(wake_fd_.get());
}

bool TapHost::ping(const Ip4& dst, uint16_t seq, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lk(mu_);
  while (arp_.find(dst) == arp_.end()) {
    lk.unlock();
    send_raw(arp_frame(1, kBroadcast, mac_, ip_, Mac{}, dst));
    lk.lock();
    if (cv_.wait_until(lk, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(300)),
                       [&] { return arp_.count(dst) != 0; }))
      break;
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
  const Mac dmac = arp_[dst];
  echo_replies_[seq] = false;
  lk.unlock();
  std::vector<uint8_t> payload(56);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i + seq);
  send_raw(icmp_echo_frame(8, dmac, mac_, ip_, dst, 0x7a7a, seq, payload));
  lk.lock();
  return cv_.wait_until(lk, deadline, [&] { return echo_replies_[seq]; });
}

void TapHost::handle(uint16_t, std::span<const uint8_t> f, std::vector<Out>& replies) {
  if (auto arp = parse_arp(f)) {
    {
      std::lock_guard lk(mu_);
      arp_[arp->spa] = arp->sha;
    }
    cv_.notify_all();
    if (arp->oper == 1 && arp->tpa == ip_) {
      replies.push_back(Out{arp_frame(2, arp->sha, mac_, ip_, arp->sha, arp->spa), VlanEdit::none, 0});
      arp_answered_.fetch_add(1);
    }
    return;
  }
  if (auto icmp = parse_icmp(f)) {
    if (icmp->dip != ip_) return;
    if (!icmp->checksums_ok) {
      bad_checksums_.fetch_add(1);
      return;
    }
    if (icmp->type == 8) {
      replies.push_back(Out{icmp_echo_frame(0, icmp->src, mac_, ip_, icmp->sip, icmp->id, icmp->seq, icmp->payload),
                            VlanEdit::none, 0});
      echo_answered_.fetch_add(1);
    } else if (icmp->type == 0 && icmp->id == 0x7a7a) {
      {
        std::lock_guard lk(mu_);
        echo_replies_[icmp->seq] = true;
      }
      cv_.notify_all();
    }
  }
}

// Transmits with each frame cut into three spans (uneven sizes, offset into the first one) so
// that the port's iovec building is exercised against the real kernel, not only in unit tests.
void TapHost::transmit(uint16_t q, std::vector<Out>& frames) {
  while (!frames.empty()) {
    const size_t n = std::min<size_t>(frames.size(), kBurstSize);
    HostSpan spans[kBurstSize][3];
    std::vector<std::vector<uint8_t>> padded(n);
    Packet pkts[kBurstSize];
    TxItem items[kBurstSize];
    for (size_t i = 0; i < n; ++i) {
      // Two junk bytes in front exercise Packet::offset.
      auto& f = frames[i].frame;
      padded[i].assign(2, 0xee);
      padded[i].insert(padded[i].end(), f.begin(), f.end());
      uint8_t* d = padded[i].data();
      const uint32_t total = static_cast<uint32_t>(padded[i].size());
      const uint32_t cut1 = 2 + 7, cut2 = std::min<uint32_t>(total, 2 + 31);
      spans[i][0] = HostSpan{d, cut1};
      spans[i][1] = HostSpan{d + cut1, cut2 - cut1};
      spans[i][2] = HostSpan{d + cut2, total - cut2};
      pkts[i].spans = spans[i];
      pkts[i].nspans = 3;
      pkts[i].offset = 2;
      pkts[i].len = static_cast<uint32_t>(f.size());
      pkts[i].hdr = {};
      pkts[i].tagged = false;
      items[i] = TxItem{&pkts[i], frames[i].edit, frames[i].vid};
    }
    port_.transmit(q, items, static_cast<uint16_t>(n));
    frames.erase(frames.begin(), frames.begin() + static_cast<long>(n));
  }
}

void TapHost::loop() {
  Packet pkts[kBurstSize];
  std::vector<Out> out;
  while (!stop_.load()) {
    bool busy = false;
    {
      std::lock_guard lk(mu_);
      out.swap(pending_);
    }
    eventfd_drain(wake_fd_.get());
    if (!out.empty()) {
      transmit(0, out);
      busy = true;
    }
    for (uint16_t q = 0; q < port_.configured_queues(); ++q) {
      uint16_t n = port_.receive(q, pkts, kBurstSize);
      std::vector<Out> replies;
      for (uint16_t i = 0; i < n; ++i) {
        std::vector<uint8_t> copy(pkts[i].len);  // single span from a tap pool
        std::copy_n(pkts[i].spans[0].data + pkts[i].offset, pkts[i].len, copy.begin());
        handle(q, copy, replies);
      }
      port_.receive_done(q);
      transmit(q, replies);
      busy |= n != 0;
    }
    if (busy) continue;
    bool ready = false;
    for (uint16_t q = 0; q < port_.configured_queues(); ++q) ready |= port_.enable_notify(q);
    if (ready) continue;
    sleep_on({port_.wait_fd(0), wake_fd_.get(), stop_fd_.get()});
  }
}

}  // namespace vnet::ports::testing
