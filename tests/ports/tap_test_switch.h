// Test stand-ins for the rest of vnetd around tap ports, calling the Port interface directly:
//   TapWire: a two-port switch without an FDB: everything from port A queue q goes to port B
//            queue q and back, one thread per queue index (each thread is the only caller of
//            its queues, as a poll thread would be).
//   TapHost: a tiny IPv4 host on one port: answers ARP and ICMP echo, and pings the kernel.
// Both sleep on wait_fd()s like an interrupt-mode poll thread and stop through an eventfd.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "ports/tap_port.h"
#include "tap_test_frames.h"

namespace vnet::ports::testing {

class TapWire {
 public:
  TapWire(TapPort& a, TapPort& b);
  ~TapWire() { stop(); }
  void stop();
  // Packets handed to transmit() on `to` (delivered or dropped by the port).
  uint64_t handed_to_a() const { return to_a_.load(); }
  uint64_t handed_to_b() const { return to_b_.load(); }
  uint32_t max_frame() const { return max_frame_.load(); }

 private:
  void loop(uint16_t q);
  TapPort& a_;
  TapPort& b_;
  std::atomic<bool> stop_{false};
  UniqueFd stop_fd_;  // wakes the threads from poll()
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> to_a_{0}, to_b_{0};
  std::atomic<uint32_t> max_frame_{0};
};

class TapHost {
 public:
  TapHost(TapPort& port, Mac mac, Ip4 ip);
  ~TapHost() { stop(); }
  void stop();
  // ARP for `dst` (if not known yet), send an echo request, wait for its reply.
  bool ping(const Ip4& dst, uint16_t seq, std::chrono::milliseconds timeout);
  // Queue a raw frame for transmission on queue 0 with a VLAN edit.
  void send_raw(std::vector<uint8_t> frame, dataplane::VlanEdit edit = dataplane::VlanEdit::none,
                uint16_t vid = 0);
  uint64_t echo_requests_answered() const { return echo_answered_.load(); }
  uint64_t arp_requests_answered() const { return arp_answered_.load(); }
  uint64_t bad_checksums() const { return bad_checksums_.load(); }

 private:
  struct Out {
    std::vector<uint8_t> frame;
    dataplane::VlanEdit edit;
    uint16_t vid;
  };
  void loop();
  void handle(uint16_t q, std::span<const uint8_t> frame, std::vector<Out>& replies);
  void transmit(uint16_t q, std::vector<Out>& frames);

  TapPort& port_;
  std::atomic<bool> stop_{false};
  Mac mac_;
  Ip4 ip_;
  UniqueFd stop_fd_, wake_fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Out> pending_;               // guarded by mu_
  std::map<Ip4, Mac> arp_;                 // guarded by mu_
  std::map<uint16_t, bool> echo_replies_;  // seq -> seen, guarded by mu_
  std::atomic<uint64_t> echo_answered_{0}, arp_answered_{0}, bad_checksums_{0};
  std::thread thread_;
};

}  // namespace vnet::ports::testing
