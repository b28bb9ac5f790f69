// Replays, message by message, what QEMU 7.2 sends to a vhost-user-net back-end with two queue
// pairs (vhost-user-facts.md 1.2 A-D): per-qp init with CALL before SET_FEATURES, SET_VRING_ENABLE
// before any ring exists, start, MQ_VQ_PAIRS_SET, stop with SET_STATUS 0 before GET_VRING_BASE,
// and a guest reboot. Run with and without CONFIGURE_MEM_SLOTS (7.2 sends ADD_MEM_REG per qp).
#include <gtest/gtest.h>

#include "harness.h"

namespace vnet::vhost_user::testing {
namespace {

constexpr uint64_t kAck = 1, kDriver = 2, kDriverOk = 4, kFeaturesOk = 8;

class Qemu72Replay : public ::testing::TestWithParam<bool> {
 protected:
  Harness h{2};
  bool mem_slots() const { return GetParam(); }
  std::vector<UniqueFd> masked;  // QEMU's masked notifiers (step A.8)
  std::vector<UniqueFd> irqfds;  // irqfds (step C.2)

  // A. vhost_user_backend_init + vhost_dev_init, once per queue pair.
  void init_qp(int qp) {
    uint64_t f = h.get_u64(Request::get_features);
    ASSERT_TRUE(f & virtio::bit(virtio::kFProtocolFeatures));
    uint64_t pf = h.get_u64(Request::get_protocol_features);
    // QEMU's mask for net: everything we offer except what it does not know; never CONFIG.
    pf &= kBackendProtocolFeatures;
    if (!mem_slots()) pf &= ~protocol::bit(protocol::kConfigureMemSlots);
    ASSERT_TRUE(h.send(Harness::msg(Request::set_protocol_features, pf)).ok());
    if (qp == 0) {
      ASSERT_EQ(h.get_u64(Request::get_queue_num), 2u);
    }
    if (mem_slots()) {
      ASSERT_EQ(h.get_u64(Request::get_max_mem_slots), kBackendMaxMemSlots);
    }
    if (qp == 0) {
      ASSERT_TRUE(h.send(Harness::msg(Request::set_owner)).ok());
    }
    (void)h.get_u64(Request::get_features);
    for (uint16_t vq = 2 * qp; vq < 2 * qp + 2; ++vq) {
      masked.push_back(make_eventfd().value());
      ASSERT_TRUE(h.send(Harness::msg(Request::set_vring_call, uint64_t{vq}), {masked.back().get()}).ok());
    }
  }

  // B. FEATURES_OK: queue pair 0 enabled, the others disabled, before any ring exists.
  void features_ok() {
    for (uint16_t vq = 0; vq < 4; ++vq) h.enable(vq, vq < 2);
  }

  void add_status(uint64_t bits) {
    uint64_t s = h.get_u64(Request::get_status);
    ASSERT_TRUE(h.send(Harness::msg(Request::set_status, s | bits)).ok());
  }

  // C. DRIVER_OK: vhost_net_start.
  void driver_ok(uint16_t base) {
    ASSERT_EQ(h.acked(Harness::msg(Request::net_set_mtu, uint64_t{1500})), 0u);
    irqfds.clear();
    for (uint16_t vq = 0; vq < 4; ++vq) {
      irqfds.push_back(make_eventfd().value());
      ASSERT_TRUE(h.send(Harness::msg(Request::set_vring_call, uint64_t{vq}), {irqfds.back().get()}).ok());
    }
    for (int qp = 0; qp < 2; ++qp) {
      if (qp == 0) {
        for (uint16_t vq = 0; vq < 2; ++vq) h.enable(vq, true);  // 7.2: enable before vhost_dev_start
      }
      uint64_t features = h.conn->offered_features() & ~virtio::bit(virtio::kNetFMtu);
      ASSERT_TRUE(h.send(Harness::msg(Request::set_features, features)).ok());
      add_status(kFeaturesOk);
      MemRegion r = h.region();
      if (mem_slots()) {
        ASSERT_EQ(h.acked(Harness::msg(Request::add_mem_reg, SingleMemRegion{0, r}), {h.mem.mem.fd()}), 0u);
      } else if (qp == 0) {
        ASSERT_EQ(h.acked(h.mem_table_msg({&r, 1}), {h.mem.mem.fd()}), 0u);
      }
      for (uint16_t vq = 2 * qp; vq < 2 * qp + 2; ++vq) {
        ASSERT_TRUE(h.send(Harness::msg(Request::set_vring_num, VringState{vq, h.mem.qsize})).ok());
        ASSERT_TRUE(h.send(Harness::msg(Request::set_vring_base, VringState{vq, base})).ok());
        ASSERT_TRUE(h.send(h.addr_msg(vq)).ok());
        ASSERT_TRUE(h.send(Harness::msg(Request::set_vring_kick, uint64_t{vq}), {h.kicks[vq].get()}).ok());
      }
      if (qp == 1) add_status(kAck | kDriver | kDriverOk);
    }
  }

  // D. vhost_net_stop: SET_STATUS 0 first (7.2), then GET_VRING_BASE per vq.
  std::vector<uint16_t> stop() {
    EXPECT_TRUE(h.send(Harness::msg(Request::set_status, uint64_t{0})).ok());
    std::vector<uint16_t> bases;
    for (uint16_t vq = 0; vq < 4; ++vq) bases.push_back(h.get_vring_base(vq));
    return bases;
  }
};

TEST_P(Qemu72Replay, BootMultiqueueStopReboot) {
  init_qp(0);
  init_qp(1);
  EXPECT_EQ(h.dev.running_count(), 0u);
  features_ok();
  driver_ok(0);
  ASSERT_FALSE(h.closed()) << h.last.error().message();
  EXPECT_TRUE(h.no_reply());

  // Every ring runs; queue pair 0 enabled, queue pair 1 waiting for MQ_VQ_PAIRS_SET.
  ASSERT_EQ(h.dev.running_count(), 4u);
  auto running = h.dev.running();
  EXPECT_TRUE(running.at(0).enabled);
  EXPECT_TRUE(running.at(1).enabled);
  EXPECT_FALSE(running.at(2).enabled);
  EXPECT_FALSE(running.at(3).enabled);
  for (uint16_t vq = 0; vq < 4; ++vq) {
    // The device got the irqfd (the last CALL), not the masked notifier.
    eventfd_signal(running.at(vq).call_fd);
    EXPECT_EQ(eventfd_drain(irqfds[vq].get()), 1u);
    EXPECT_EQ(eventfd_drain(masked[vq].get()), 0u);
  }
  EXPECT_EQ(h.conn->status(), kAck | kDriver | kDriverOk | kFeaturesOk);
  EXPECT_EQ(h.conn->memory().current()->regions().size(), 1u) << "ADD_MEM_REG per qp is idempotent";

  // C.4: the guest turns on the second queue pair.
  for (uint16_t vq = 0; vq < 4; ++vq) h.enable(vq, true);
  EXPECT_TRUE(h.dev.running().at(2).enabled);
  EXPECT_TRUE(h.dev.running().at(3).enabled);
  EXPECT_EQ(h.dev.count(Hook::enable_ring), 2u);

  // Traffic happened; then the guest reboots.
  for (uint16_t vq = 0; vq < 4; ++vq) h.mem.set_avail_idx(vq, static_cast<uint16_t>(100 + vq));
  auto bases = stop();
  EXPECT_EQ(bases, (std::vector<uint16_t>{100, 101, 102, 103})) << "SET_STATUS 0 must not wipe ring state";
  EXPECT_EQ(h.dev.running_count(), 0u);
  EXPECT_EQ(h.conn->status(), 0);

  // Reboot: B and C again, from base 0 (the guest reset its rings).
  for (uint16_t vq = 0; vq < 4; ++vq) h.mem.set_avail_idx(vq, 0);
  features_ok();
  driver_ok(0);
  ASSERT_EQ(h.dev.running_count(), 4u);
  for (auto& [vq, s] : h.dev.running()) EXPECT_EQ(s.last_avail_idx, 0) << vq;
  EXPECT_EQ(h.dev.count(Hook::start_ring), 8u);
  EXPECT_EQ(h.dev.count(Hook::reset), 0u) << "7.2 sends no RESET_OWNER on reboot; nothing resets the device";
  EXPECT_EQ(h.dev.bogus_stops(), 0);

  // Shutdown: stop, then the socket closes.
  (void)stop();
  h.peer.close();
  EXPECT_FALSE(h.conn->on_readable().ok());
  EXPECT_EQ(h.dev.count(Hook::reset), 1u);
  EXPECT_EQ(count_memfd_mappings("vu-test"), 1u);
}

INSTANTIATE_TEST_SUITE_P(MemoryMessages, Qemu72Replay, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "add_mem_reg_per_qp" : "set_mem_table"; });

}  // namespace
}  // namespace vnet::vhost_user::testing
