// A driver started against the in-process DeviceHarness, plus frame helpers and a collecting
// RX sink, shared by the driver unit tests.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

#include "driver/device_harness.h"
#include "driver/virtio_net_driver.h"

namespace vnet::driver::testing {

struct Rig {
  DeviceHarness h;  // declared first: outlives the driver, whose stop() still talks to it
  std::unique_ptr<VirtioNetDriver> drv;

  explicit Rig(DriverConfig cfg = small_config(), const std::function<void(DeviceHarness&)>& tweak = {}) {
    if (tweak) tweak(h);
    auto d = VirtioNetDriver::start(std::make_unique<HarnessLink>(h), cfg);
    if (!d) throw std::runtime_error("driver start: " + d.error().message());
    drv = std::move(d).value();
  }
  static DriverConfig small_config() {
    DriverConfig c;
    c.queue_size = 16;
    return c;
  }
};

// Ethernet frame of `len` bytes: fixed MACs, IPv4 ethertype, payload bytes derived from seed.
inline std::vector<uint8_t> make_frame(size_t len, uint8_t seed = 0) {
  std::vector<uint8_t> f(len);
  const uint8_t hdr[14] = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00};
  std::memcpy(f.data(), hdr, std::min<size_t>(len, 14));
  for (size_t i = 14; i < len; ++i) f[i] = static_cast<uint8_t>(seed + i * 7);
  return f;
}

struct Collect : RxSink {
  std::vector<std::vector<uint8_t>> frames;
  std::vector<virtio::NetHdr> hdrs;
  std::vector<uint16_t> nsegs;
  void on_frame(const RxFrame& f) override {
    std::vector<uint8_t> b(f.len);
    EXPECT_EQ(f.copy_to(b.data(), b.size()), f.len);
    frames.push_back(std::move(b));
    hdrs.push_back(f.hdr);
    nsegs.push_back(f.nsegs);
  }
};

}  // namespace vnet::driver::testing
