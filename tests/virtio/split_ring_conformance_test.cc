// Two-thread conformance test: a driver thread and a device thread share one split ring in a
// memfd mapping and talk only through the ring and two eventfds (kick, call), exactly as a
// guest and vnetd do. Chain shapes are random (1..16 segments, direct and indirect), for ring
// sizes 2..32768 with EVENT_IDX on and off. Every byte is checked in both directions, every
// token must come back exactly once, and a notification that is needed but never sent shows
// up as a timeout (a lost kick or interrupt).
#include <poll.h>

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "base/eventfd.h"
#include "virtio/ring_fixture.h"

namespace vnet::virtio {
namespace {

using testing::RingMemory;

constexpr uint32_t kMaxSegs = 16;
constexpr uint32_t kSegStride = 64;  // bytes reserved per segment inside a slot
constexpr uint32_t kSlotBytes = kMaxSegs * kSegStride;

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The shape of buffer number `seq`, derivable by both threads.
struct Shape {
  uint32_t nout, nin;
  uint32_t len[kMaxSegs];
};
// Direct chains cannot be longer than the ring, so max_segs is min(16, ring size) for them.
Shape shape_of(uint64_t seq, uint32_t max_segs) {
  uint64_t r = splitmix(seq);
  Shape s{};
  uint32_t total = 1 + static_cast<uint32_t>(r % max_segs);
  s.nout = static_cast<uint32_t>((r >> 8) % (total + 1));
  s.nin = total - s.nout;
  for (uint32_t i = 0; i < total; ++i) s.len[i] = 1 + static_cast<uint32_t>(splitmix(r + i) % kSegStride);
  return s;
}
uint8_t out_byte(uint64_t seq, uint32_t i) { return static_cast<uint8_t>(seq * 131 + i * 7); }
uint8_t in_byte(uint64_t seq, uint32_t i) { return static_cast<uint8_t>(seq * 31 + i * 3 + 1); }

bool wait_fd(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 30'000) == 1;  // a timeout counts as a lost kick/call: generous under load
}

struct Result {
  uint64_t device_errors = 0, driver_errors = 0, lost_kicks = 0, lost_calls = 0, duplicates = 0, missing = 0;
};

Result run(uint16_t qsize, bool event_idx, bool indirect, uint64_t total) {
  RingMemory m(qsize, static_cast<size_t>(qsize) * kSlotBytes, kMaxSegs);
  auto kick = make_eventfd().value();
  auto call = make_eventfd().value();
  Result res;
  const uint32_t max_segs = indirect ? kMaxSegs : std::min<uint32_t>(kMaxSegs, qsize);

  std::thread device([&] {
    SplitRingDevice dev;
    dev.configure(m.device_config(event_idx));
    dev.disable_notify();
    Chain c;
    uint64_t seq = 0;
    unsigned batch = 0;
    auto flush = [&] {
      if (batch == 0) return;
      dev.publish_used();
      batch = 0;
      if (dev.need_notify()) eventfd_signal(call.get());
    };
    while (seq < total) {
      PopStatus st = dev.pop(*m.table, c);
      if (st == PopStatus::broken) {
        ++res.device_errors;
        break;
      }
      if (st == PopStatus::empty) {
        flush();
        if (dev.enable_notify()) {
          dev.disable_notify();
          continue;
        }
        if (!wait_fd(kick.get())) ++res.lost_kicks;
        eventfd_drain(kick.get());
        dev.disable_notify();
        continue;
      }
      Shape s = shape_of(seq, max_segs);
      if (c.nreadable != s.nout || c.nwritable != s.nin) ++res.device_errors;
      uint32_t k = 0;
      for (uint32_t i = 0; i < c.nreadable && i < s.nout; ++i) {
        if (c.spans[i].len != s.len[i]) ++res.device_errors;
        for (uint32_t b = 0; b < c.spans[i].len; ++b, ++k)
          if (c.spans[i].data[b] != out_byte(seq, k)) ++res.device_errors;
      }
      k = 0;
      for (uint32_t i = 0; i < c.nwritable; ++i) {
        const HostSpan& w = c.writable()[i];
        for (uint32_t b = 0; b < w.len; ++b, ++k) w.data[b] = in_byte(seq, k);
      }
      dev.push_used(c.head, c.writable_bytes);
      ++seq;
      if (++batch == 32) flush();
    }
    flush();
  });

  std::thread driver([&] {
    SplitRingDriver drv(m.driver_config(event_idx, indirect));
    struct Slot {
      uint64_t seq;
      uint32_t index;
    };
    std::vector<Slot> slots(qsize);
    std::vector<uint32_t> free_slots;
    for (uint32_t i = 0; i < qsize; ++i) free_slots.push_back(qsize - 1 - i);
    std::vector<uint8_t> done(total, 0);
    uint64_t next_seq = 0, completed = 0;
    drv.disable_cb();
    while (completed < total && !drv.broken()) {
      bool progress = false;
      while (next_seq < total && !free_slots.empty()) {
        Shape s = shape_of(next_seq, max_segs);
        uint32_t needed = (indirect && s.nout + s.nin > 1) ? 1 : s.nout + s.nin;
        if (drv.num_free() < needed) break;
        uint32_t slot = free_slots.back();
        Segment segs[kMaxSegs];
        uint8_t* base = m.data() + static_cast<size_t>(slot) * kSlotBytes;
        uint32_t k = 0;
        for (uint32_t i = 0; i < s.nout + s.nin; ++i) {
          segs[i] = {m.data_gpa() + static_cast<uint64_t>(slot) * kSlotBytes + i * kSegStride, s.len[i]};
          if (i < s.nout)
            for (uint32_t b = 0; b < s.len[i]; ++b, ++k) base[i * kSegStride + b] = out_byte(next_seq, k);
          else
            std::memset(base + i * kSegStride, 0, s.len[i]);
        }
        slots[slot] = {next_seq, slot};
        if (drv.add(std::span(segs, s.nout), std::span(segs + s.nout, s.nin), &slots[slot]) != AddStatus::ok) {
          ++res.driver_errors;
          return;
        }
        free_slots.pop_back();
        ++next_seq;
        progress = true;
      }
      if (progress && drv.kick_prepare()) eventfd_signal(kick.get());
      while (auto u = drv.get_buf()) {
        auto* slot = static_cast<Slot*>(u->token);
        Shape s = shape_of(slot->seq, max_segs);
        uint32_t expect_len = 0;
        for (uint32_t i = s.nout; i < s.nout + s.nin; ++i) expect_len += s.len[i];
        if (u->len != expect_len || u->len_error) ++res.driver_errors;
        uint8_t* base = m.data() + static_cast<size_t>(slot->index) * kSlotBytes;
        uint32_t k = 0;
        for (uint32_t i = s.nout; i < s.nout + s.nin; ++i)
          for (uint32_t b = 0; b < s.len[i]; ++b, ++k)
            if (base[i * kSegStride + b] != in_byte(slot->seq, k)) ++res.driver_errors;
        if (done[slot->seq]++) ++res.duplicates;
        free_slots.push_back(slot->index);
        ++completed;
        progress = true;
      }
      if (progress || completed == total) continue;
      uint16_t last = drv.enable_cb_prepare();
      if (drv.poll(last)) {
        drv.disable_cb();
        continue;
      }
      if (!wait_fd(call.get())) ++res.lost_calls;
      eventfd_drain(call.get());
      drv.disable_cb();
    }
    if (drv.broken()) ++res.driver_errors;
    for (uint64_t i = 0; i < total; ++i)
      if (!done[i]) ++res.missing;
  });

  device.join();
  driver.join();
  return res;
}

struct Config {
  uint16_t size;
  bool event_idx;
  bool indirect;
};

class Conformance : public ::testing::TestWithParam<Config> {};

// 6 sizes x 2 x 2 = 24 runs of 45000 buffers: 1.08 million buffers in all.
constexpr uint64_t kBuffersPerRun = 45000;

TEST_P(Conformance, EveryByteAndEveryTokenExactlyOnce) {
  auto cfg = GetParam();
  Result r = run(cfg.size, cfg.event_idx, cfg.indirect, kBuffersPerRun);
  EXPECT_EQ(r.device_errors, 0u);
  EXPECT_EQ(r.driver_errors, 0u);
  EXPECT_EQ(r.lost_kicks, 0u);
  EXPECT_EQ(r.lost_calls, 0u);
  EXPECT_EQ(r.duplicates, 0u);
  EXPECT_EQ(r.missing, 0u);
}

std::vector<Config> configs() {
  std::vector<Config> v;
  for (uint16_t size : {2, 8, 64, 256, 1024}) {
    for (bool ei : {false, true})
      for (bool ind : {false, true}) v.push_back({size, ei, ind});
  }
  for (bool ei : {false, true})
    for (bool ind : {false, true}) v.push_back({32768, ei, ind});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conformance, ::testing::ValuesIn(configs()), [](const auto& info) {
  return "size" + std::to_string(info.param.size) + (info.param.event_idx ? "_eventidx" : "_flags") +
         (info.param.indirect ? "_indirect" : "_direct");
});

}  // namespace
}  // namespace vnet::virtio
