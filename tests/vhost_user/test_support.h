// Shared test helpers for the vhost_user layer: a DeviceBackend that records every hook, the
// memory a front-end hands over (one memfd holding the rings), socket paths and fd/mapping
// counters for leak checks.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/memfd.h"
#include "mem/guest_memory.h"
#include "vhost_user/device_backend.h"
#include "vhost_user/frontend.h"
#include "virtio/features.h"
#include "virtio/ring_layout.h"

namespace vnet::vhost_user::testing {

using namespace std::chrono_literals;

enum class Hook { attach_memory, set_features, start_ring, stop_ring, enable_ring, set_call_fd, set_mtu, send_rarp, reset };

struct HookCall {
  Hook hook;
  uint16_t index = 0;
  uint64_t value = 0;  // features, mtu, enabled, call fd, rarp mac, last_avail returned by stop
  VringSetup setup;    // start_ring
};

inline virtio::Features default_device_features() {
  using namespace virtio;
  return bit(kFVersion1) | bit(kNetFMrgRxbuf) | bit(kFRingEventIdx) | bit(kFRingIndirectDesc) | bit(kNetFMq) |
         bit(kNetFMtu) | bit(kNetFStatus);
}

// Records hooks. stop_ring returns the avail index it finds in the ring (as if the device had
// consumed everything the driver published), which also proves the pointers it was given are
// valid guest memory (ASan would flag them otherwise).
class FakeDevice : public DeviceBackend {
 public:
  explicit FakeDevice(uint16_t queue_pairs = 4, virtio::Features features = default_device_features())
      : qps_(queue_pairs), features_(features) {}

  virtio::Features device_features() const override { return features_; }
  uint16_t max_queue_pairs() const override { return qps_; }
  void attach_memory(const GuestMemory* memory) override {
    std::lock_guard lk(mu_);
    memory_ = memory;
    record({Hook::attach_memory});
  }
  void set_features(virtio::Features f) override {
    std::lock_guard lk(mu_);
    record({Hook::set_features, 0, f});
  }
  void start_ring(const VringSetup& s) override {
    std::lock_guard lk(mu_);
    running_[s.index] = s;
    record({Hook::start_ring, s.index, 0, s});
  }
  uint16_t stop_ring(uint16_t index) override {
    std::lock_guard lk(mu_);
    auto it = running_.find(index);
    uint16_t last = 0;
    if (it != running_.end()) {
      const VringSetup& s = it->second;
      last = consume_on_stop ? *reinterpret_cast<volatile uint16_t*>(s.avail + virtio::kRingIdxOff) : s.last_avail_idx;
      running_.erase(it);
    } else {
      bogus_stops_++;
    }
    record({Hook::stop_ring, index, last});
    return last;
  }
  void enable_ring(uint16_t index, bool enabled) override {
    std::lock_guard lk(mu_);
    if (running_.count(index)) running_[index].enabled = enabled;
    record({Hook::enable_ring, index, enabled});
  }
  void set_call_fd(uint16_t index, int fd) override {
    std::lock_guard lk(mu_);
    if (running_.count(index)) running_[index].call_fd = fd;
    record({Hook::set_call_fd, index, static_cast<uint64_t>(fd)});
  }
  void set_mtu(uint16_t mtu) override {
    std::lock_guard lk(mu_);
    record({Hook::set_mtu, 0, mtu});
  }
  void send_rarp(const uint8_t mac[6]) override {
    std::lock_guard lk(mu_);
    uint64_t v = 0;
    std::memcpy(&v, mac, 6);
    record({Hook::send_rarp, 0, v});
  }
  void reset() override {
    std::lock_guard lk(mu_);
    if (!running_.empty()) reset_with_running_rings_++;
    record({Hook::reset});
  }

  // --- test side ---
  bool consume_on_stop = true;

  std::vector<HookCall> calls() const {
    std::lock_guard lk(mu_);
    return calls_;
  }
  size_t count(Hook h) const {
    std::lock_guard lk(mu_);
    size_t n = 0;
    for (auto& c : calls_) n += c.hook == h;
    return n;
  }
  std::map<uint16_t, VringSetup> running() const {
    std::lock_guard lk(mu_);
    return running_;
  }
  size_t running_count() const {
    std::lock_guard lk(mu_);
    return running_.size();
  }
  int bogus_stops() const {
    std::lock_guard lk(mu_);
    return bogus_stops_;
  }
  int reset_with_running_rings() const {
    std::lock_guard lk(mu_);
    return reset_with_running_rings_;
  }
  const GuestMemory* memory() const {
    std::lock_guard lk(mu_);
    return memory_;
  }
  void clear() {
    std::lock_guard lk(mu_);
    calls_.clear();
  }
  // Waits (bounded) until `pred()` holds; pred runs under the device lock on calls_/running_.
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout = 30s) const {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return pred(calls_, running_); });
  }
  bool wait_running(size_t n, std::chrono::milliseconds timeout = 30s) const {
    return wait([&](auto&, auto& r) { return r.size() == n; }, timeout);
  }
  bool wait_count(Hook h, size_t n, std::chrono::milliseconds timeout = 30s) const {
    return wait(
        [&](auto& c, auto&) {
          size_t k = 0;
          for (auto& x : c) k += x.hook == h;
          return k >= n;
        },
        timeout);
  }

 private:
  void record(HookCall c) {
    calls_.push_back(c);
    cv_.notify_all();
  }
  uint16_t qps_;
  virtio::Features features_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<HookCall> calls_;
  std::map<uint16_t, VringSetup> running_;
  const GuestMemory* memory_ = nullptr;
  int bogus_stops_ = 0;
  int reset_with_running_rings_ = 0;
};

// The memory our driver would share: one memfd, GPA == offset, VA == pointer, with `nrings`
// split rings of `qsize` laid out one after the other (4 KiB aligned).
struct DriverMemory {
  uint16_t qsize;
  size_t ring_stride;
  MemfdMapping mem;

  DriverMemory(uint16_t nrings, uint16_t size, size_t extra = 64 * 1024)
      : qsize(size),
        ring_stride(virtio::align_up(virtio::contiguous_layout(size).total, 4096)),
        mem(MemfdMapping::create("vu-test", ring_stride * nrings + extra).value()) {}

  RegionSpec region() const { return RegionSpec{mem.fd(), 0, mem.size(), 0, reinterpret_cast<uint64_t>(mem.data())}; }
  uint8_t* ring_base(uint16_t i) const { return mem.data() + i * ring_stride; }
  VringAddresses addresses(uint16_t i) const {
    auto l = virtio::contiguous_layout(qsize);
    auto va = reinterpret_cast<uint64_t>(ring_base(i));
    return VringAddresses{va + l.desc_off, va + l.avail_off, va + l.used_off};
  }
  uint8_t* avail(uint16_t i) const { return ring_base(i) + virtio::contiguous_layout(qsize).avail_off; }
  void set_avail_idx(uint16_t i, uint16_t v) { *reinterpret_cast<uint16_t*>(avail(i) + virtio::kRingIdxOff) = v; }
};

inline std::string socket_path(const std::string& tag) {
  static std::atomic<int> n{0};
  return "/tmp/vnet-vu-" + std::to_string(::getpid()) + "-" + tag + "-" + std::to_string(n++) + ".sock";
}

inline size_t count_open_fds() {
  size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return 0;
  while (auto* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n - 1;  // the directory's own fd
}

inline size_t count_mappings() {
  std::ifstream f("/proc/self/maps");
  std::string line;
  size_t n = 0;
  while (std::getline(f, line)) n++;
  return n;
}

// Mappings of a memfd named `name` (shown as /memfd:name (deleted)).
inline size_t count_memfd_mappings(const std::string& name) {
  std::ifstream f("/proc/self/maps");
  std::string line;
  size_t n = 0;
  while (std::getline(f, line)) n += line.find("/memfd:" + name) != std::string::npos;
  return n;
}

}  // namespace vnet::vhost_user::testing
