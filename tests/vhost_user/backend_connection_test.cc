// The back-end's protocol state machine, message by message, including a test for each
// applicable pitfall of vhost-user-facts.md section 1.4 (named "Pitfall N").
#include <gtest/gtest.h>

#include "harness.h"

namespace vnet::vhost_user::testing {
namespace {

using virtio::bit;

uint64_t pending_kicks(int fd) { return eventfd_drain(fd); }

TEST(BackendConnection, OffersExactlyDeviceFeaturesPlusProtocolFeatures) {
  Harness h;
  EXPECT_EQ(h.get_u64(Request::get_features), default_device_features() | bit(virtio::kFProtocolFeatures));
  uint64_t pf = h.get_u64(Request::get_protocol_features);
  EXPECT_EQ(pf, protocol::bit(protocol::kMq) | protocol::bit(protocol::kReplyAck) | protocol::bit(protocol::kRarp) |
                    protocol::bit(protocol::kNetMtu) | protocol::bit(protocol::kConfigureMemSlots) |
                    protocol::bit(protocol::kStatus));
  EXPECT_EQ(h.get_u64(Request::get_queue_num), 4u);
  EXPECT_EQ(h.get_u64(Request::get_max_mem_slots), kBackendMaxMemSlots);
}

// Pitfall 14: CONFIG is never offered (QEMU 7.2 strips it for net with a warning).
TEST(BackendConnection, Pitfall14_ConfigNotOffered) {
  Harness h;
  EXPECT_FALSE(h.get_u64(Request::get_protocol_features) & protocol::bit(protocol::kConfig));
}

// Pitfall 11: no packed ring unless the device offers it end to end.
TEST(BackendConnection, Pitfall11_PackedRingNotOfferedByDefault) {
  Harness h;
  EXPECT_FALSE(h.get_u64(Request::get_features) & bit(virtio::kFRingPacked));
}

// Pitfall 12: MQ offered and GET_QUEUE_NUM reports the device's queue pairs.
TEST(BackendConnection, Pitfall12_QueueNumIsMaxQueuePairs) {
  Harness h(8);
  EXPECT_TRUE(h.get_u64(Request::get_protocol_features) & protocol::bit(protocol::kMq));
  EXPECT_EQ(h.get_u64(Request::get_queue_num), 8u);
  EXPECT_EQ(h.conn->num_rings(), 16);
}

TEST(BackendConnection, RingStartsWhenReadyWithTranslatedPointers) {
  Harness h;
  h.negotiate();
  h.set_mem_table();
  h.setup_ring(0, 5);
  ASSERT_EQ(h.dev.running_count(), 1u);
  VringSetup s = h.dev.running().at(0);
  EXPECT_EQ(s.size, 256);
  EXPECT_EQ(s.last_avail_idx, 5);
  EXPECT_FALSE(s.enabled);  // PROTOCOL_FEATURES acked: rings start disabled
  h.mem.ring_base(0)[1] = 0x5a;
  EXPECT_EQ(s.desc[1], 0x5a);
  h.enable(0);
  EXPECT_TRUE(h.dev.running().at(0).enabled);
  EXPECT_TRUE(h.conn->ring_started(0));
}

TEST(BackendConnection, WithoutProtocolFeaturesRingsStartEnabled) {
  Harness h;
  h.negotiate(false, false);
  h.set_mem_table();
  h.setup_ring(1);
  ASSERT_EQ(h.dev.running_count(), 1u);
  EXPECT_TRUE(h.dev.running().at(1).enabled);
}

// Pitfall 1: ring setup order does not matter; readiness is a predicate.
TEST(BackendConnection, Pitfall1_CloudHypervisorOrderNumAddrBaseCallKick) {
  Harness h;
  h.negotiate();
  h.set_mem_table();
  ASSERT_TRUE(h.send(Harness::msg(Request::set_vring_num, VringState{2, 256})).ok());
  ASSERT_TRUE(h.send(h.addr_msg(2)).ok());
  ASSERT_TRUE(h.send(Harness::msg(Request::set_vring_base, VringState{2, 7})).ok());
  ASSERT_TRUE(h.send(Harness::msg(Request::set_vring_call, uint64_t{2}), {h.calls[2].get()}).ok());
  EXPECT_EQ(h.dev.running_count(), 0u);  // no kick yet
  ASSERT_TRUE(h.send(Harness::msg(Request::set_vring_kick, uint64_t{2}), {h.kicks[2].get()}).ok());
  ASSERT_EQ(h.dev.running_count(), 1u);
  EXPECT_EQ(h.dev.running().at(2).last_avail_idx, 7);
  EXPECT_GE(h.dev.running().at(2).call_fd, 0);
}

TEST(BackendConnection, Pitfall1_RingsBeforeMemoryTableStartWhenMemoryArrives) {
  Harness h;
  h.negotiate();
  h.enable(0);  // QEMU 7.2: enable before any ring exists
  h.setup_ring(0);
  EXPECT_EQ(h.dev.running_count(), 0u);
  h.set_mem_table();
  ASSERT_EQ(h.dev.running_count(), 1u);
  EXPECT_TRUE(h.dev.running().at(0).enabled);
}

// Pitfall 6: EVENT_IDX comes from SET_FEATURES; no ring starts before the features are known.
TEST(BackendConnection, Pitfall6_NoRingStartsBeforeSetFeatures) {
  Harness h;
  (void)h.get_u64(Request::get_features);
  uint64_t pf = h.get_u64(Request::get_protocol_features);
  ASSERT_TRUE(h.send(Harness::msg(Request::set_protocol_features, pf)).ok());
  h.set_mem_table();
  h.setup_ring(0);
  EXPECT_EQ(h.dev.running_count(), 0u);
  uint64_t f = default_device_features() | bit(virtio::kFProtocolFeatures);
  ASSERT_EQ(h.acked(Harness::msg(Request::set_features, f)), 0u);
  ASSERT_EQ(h.dev.running_count(), 1u);
  auto calls = h.dev.calls();
  size_t feat = 0, start = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (calls[i].hook == Hook::set_features) feat = i;
    if (calls[i].hook == Hook::start_ring) start = i;
  }
  EXPECT_LT(feat, start);
  EXPECT_TRUE(calls[feat].value & bit(virtio::kFRingEventIdx));
}

// Pitfall 2: a kick that arrived before SET_VRING_ENABLE is not lost.
TEST(BackendConnection, Pitfall2_KickBeforeEnableIsNotLost) {
  Harness h;
  h.negotiate();
  h.set_mem_table();
  h.setup_ring(1);
  ASSERT_FALSE(h.dev.running().at(1).enabled);
  // The driver kicks; a device that ignores disabled rings consumes the kick and drops it.
  eventfd_signal(h.kicks[1].get());
  (void)pending_kicks(h.kicks[1].get());
  h.enable(1);
  EXPECT_TRUE(h.dev.running().at(1).enabled);
  EXPECT_EQ(h.dev.count(Hook::enable_ring), 1u);
  EXPECT_GT(pending_kicks(h.kicks[1].get()), 0u) << "enable must make the device rescan the avail ring";
}

// Pitfall 3: after a back-end restart every enabled ring is processed without a new kick.
TEST(BackendConnection, Pitfall3_RestartedBackendProcessesRingsWithoutKick) {
  Harness h;
  h.negotiate();
  h.set_mem_table();
  for (uint16_t i = 0; i < 4; ++i) h.enable(i);
  h.mem.set_avail_idx(0, 12);  // the guest queued buffers while we were gone
  for (uint16_t i = 0; i < 4; ++i) h.setup_ring(i, 10);
  ASSERT_EQ(h.dev.running_count(), 4u);
  for (uint16_t i = 0; i < 4; ++i) {
    EXPECT_EQ(h.dev.running().at(i).last_avail_idx, 10);
    EXPECT_GT(pending_kicks(h.kicks[i].get()), 0u) << "ring " << i << " must be looked at on start";
  }
}

// Pitfall 4: GET_VRING_BASE stops the ring but does not reset it.
TEST(BackendConnection, Pitfall4_GetVringBaseStopsWithoutReset) {
  Harness h;
  h.negotiate();
  h.set_mem_table();
  h.setup_ring(0);
  h.enable(0);
  h.mem.set_avail_idx(0, 9);
  EXPECT_EQ(h.get_vring_base(0), 9);
  EXPECT_EQ(h.dev.running_count(), 0u);
  EXPECT_EQ(h.get_vring_base(0), 9) << "a stopped ring keeps its state";
  // Resume: a new kick restarts it where it stopped (no SET_VRING_BASE needed).
  ASSERT_TRUE(h.send(Harness::msg(Request::set_vring_kick, uint64_t{0}), {h.kicks[0].get()}).ok());
  ASSERT_EQ(h.dev.running_count(), 1u);
  EXPECT_EQ(h.dev.running().at(0).last_avail_idx, 9);
  EXPECT_TRUE(h.dev.running().at(0).enabled);
  EXPECT_EQ(h.dev.count(Hook::reset), 0u);
}

// Pitfall 5: SET_FEATURES while rings run does not stop or disable them.
TEST(BackendConnection, Pitfall5_SetFeaturesDoesNotStopRunningRings) {
  Harness h;
  h.negotiate();
  h.set_mem_table();
  h.setup_ring(0);
  h.enable(0);
  uint64_t f = h.conn->acked_features();
  ASSERT_EQ(h.acked(Harness::msg(Request::set_features, f)), 0u);
  EXPECT_EQ(h.dev.count(Hook::stop_ring), 0u);
  EXPECT_EQ(h.dev.count(Hook::set_features), 2u);
  EXPECT_TRUE(h.dev.running().at(0).enabled);
}

// Pitfall 7: exactly one reply per request with NEED_REPLY, none without REPLY_ACK, never a
// second one for requests that reply anyway.
TEST(BackendConnection, Pitfall7_ReplyAckExactlyOnce) {
  Harness h;
  h.negotiate(true);
  EXPECT_EQ(h.acked(Harness::msg(Request::set_owner)), 0u);
  EXPECT_TRUE(h.no_reply());
  // Requests that always reply: NEED_REPLY changes nothing.
  ASSERT_TRUE(h.send(Harness::msg(Request::get_features, true)).ok());
  auto r = h.reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->u64(), h.conn->offered_features());
  EXPECT_TRUE(h.no_reply());
  ASSERT_TRUE(h.send(Harness::msg(Request::get_vring_base, VringState{3, 0}, true)).ok());
  ASSERT_TRUE(h.reply().has_value());
  EXPECT_TRUE(h.no_reply());
}

TEST(BackendConnection, Pitfall7_NoReplyWithoutReplyAckNegotiated) {
  Harness h;
  h.negotiate(false);
  ASSERT_TRUE(h.send(Harness::msg(Request::set_owner, true)).ok());
  ASSERT_TRUE(h.send(Harness::msg(Request::set_vring_num, VringState{0, 256}, true)).ok());
  EXPECT_TRUE(h.no_reply());
  EXPECT_FALSE(h.closed());
}

TEST(BackendConnection, Pitfall7_SetProtocolFeaturesEnablingReplyAckIsAcked) {
  Harness h;
  ASSERT_EQ(h.acked(Harness::msg(Request::set_protocol_features, kBackendProtocolFeatures)), 0u);
}

// Pitfall 8: QEMU 7.2 sends SET_STATUS 0 before GET_VRING_BASE.
TEST(BackendConnection, Pitfall8_SetStatusZeroBeforeGetVringBase) {
  Harness h;
  h.negotiate();
  h.set_mem_table();
  h.setup_ring(0);
  h.setup_ring(1);
  ASSERT_TRUE(h.send(Harness::msg(Request::set_status, uint64_t{0x0f})).ok());
  EXPECT_EQ(h.get_u64(Request::get_status), 0x0fu);
  h.mem.set_avail_idx(0, 33);
  h.mem.set_avail_idx(1, 44);
  ASSERT_TRUE(h.send(Harness::msg(Request::set_status, uint64_t{0})).ok());
  EXPECT_EQ(h.dev.running_count(), 2u);
  EXPECT_EQ(h.get_vring_base(0), 33);
  EXPECT_EQ(h.get_vring_base(1), 44);
}

// Pitfall 9: a new SET_MEM_TABLE while rings run re-translates them.
TEST(BackendConnection, Pitfall9_NewMemTableWhileRunningRetranslatesRings) {
  Harness h;
  h.negotiate();
  h.set_mem_table();
  h.setup_ring(0);
  h.enable(0);
  h.mem.set_avail_idx(0, 3);
  // Same front-end addresses, new backing memfd (with a marker), different GPA base.
  auto other = MemfdMapping::create("vu-other", h.mem.mem.size()).value();
  std::memcpy(other.data(), h.mem.mem.data(), h.mem.mem.size());
  other.data()[0] = 0x77;
  MemRegion r = h.region();
  r.guest_phys_addr = 0x100000;
  ASSERT_EQ(h.acked(h.mem_table_msg({&r, 1}), {other.fd()}), 0u);
  ASSERT_EQ(h.dev.count(Hook::stop_ring), 1u);
  ASSERT_EQ(h.dev.count(Hook::start_ring), 2u);
  VringSetup s = h.dev.running().at(0);
  EXPECT_EQ(s.desc[0], 0x77) << "ring pointers must point into the new table";
  EXPECT_EQ(s.last_avail_idx, 3) << "the ring continues where it stopped";
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(count_memfd_mappings("vu-test"), 1u) << "the old mapping is released";
  EXPECT_NE(h.conn->memory().current()->gpa_to_host(0x100000, 16), nullptr);
}

// Pitfall 10: ADD_MEM_REG repeated per queue pair (QEMU 7.2) is idempotent; REM_MEM_REG too.
TEST(BackendConnection, Pitfall10_AddMemRegIdempotent) {
  Harness h;
  h.negotiate();
  MemRegion r = h.region();
  for (int qp = 0; qp < 3; ++qp)
    ASSERT_EQ(h.acked(Harness::msg(Request::add_mem_reg, SingleMemRegion{0, r}), {h.mem.mem.fd()}), 0u);
  EXPECT_EQ(h.conn->memory().current()->regions().size(), 1u);
  EXPECT_EQ(count_memfd_mappings("vu-test"), 2u);
  h.setup_ring(0);
  EXPECT_EQ(h.dev.running_count(), 1u);
  // A second, separate region while rings run: they keep running.
  auto more = MemfdMapping::create("vu-more", 1 << 16).value();
  MemRegion r2{0x10000000, more.size(), reinterpret_cast<uint64_t>(more.data()), 0};
  ASSERT_EQ(h.acked(Harness::msg(Request::add_mem_reg, SingleMemRegion{0, r2}), {more.fd()}), 0u);
  EXPECT_EQ(h.conn->memory().current()->regions().size(), 2u);
  EXPECT_EQ(h.dev.count(Hook::stop_ring), 0u);
  for (int qp = 0; qp < 2; ++qp) ASSERT_EQ(h.acked(Harness::msg(Request::rem_mem_reg, SingleMemRegion{0, r2})), 0u);
  EXPECT_EQ(h.conn->memory().current()->regions().size(), 1u);
  EXPECT_EQ(count_memfd_mappings("vu-more"), 1u);
  EXPECT_EQ(h.dev.running_count(), 1u) << "the ring is not in the removed region: restarted";
}

// GET_MAX_MEM_SLOTS is a promise: that many ADD_MEM_REG regions are taken, one more is refused
// with an error (and nothing of it stays mapped), and the connection goes on.
TEST(BackendConnection, AddMemRegUpToTheAdvertisedSlots) {
  Harness h;
  h.negotiate();
  const uint64_t slots = h.get_u64(Request::get_max_mem_slots);
  ASSERT_EQ(slots, kBackendMaxMemSlots);
  std::vector<MemfdMapping> regions;
  for (uint64_t i = 0; i <= slots; ++i) {
    regions.push_back(MemfdMapping::create("vu-slot", 1 << 16).value());
    const MemfdMapping& m = regions.back();
    MemRegion r{0x100000000 + i * 0x100000, m.size(), reinterpret_cast<uint64_t>(m.data()), 0};
    const uint64_t ack = h.acked(Harness::msg(Request::add_mem_reg, SingleMemRegion{0, r}), {m.fd()});
    if (i < slots) {
      ASSERT_EQ(ack, 0u) << "slot " << i;
    } else {
      EXPECT_NE(ack, 0u) << "one region more than advertised";
    }
  }
  EXPECT_EQ(h.conn->memory().current()->regions().size(), slots);
  EXPECT_EQ(count_memfd_mappings("vu-slot"), (slots + 1) + slots) << "ours: one each; the back-end's: the accepted ones";
  EXPECT_EQ(h.get_u64(Request::get_max_mem_slots), slots) << "the connection goes on";
}

// Pitfall 13: features do not change across connections.
TEST(BackendConnection, Pitfall13_SameOfferOnEveryConnection) {
  Harness a, b;
  a.negotiate();
  EXPECT_EQ(a.get_u64(Request::get_features), b.get_u64(Request::get_features));
  EXPECT_EQ(a.get_u64(Request::get_protocol_features), b.get_u64(Request::get_protocol_features));
  EXPECT_EQ(a.get_u64(Request::get_max_mem_slots), b.get_u64(Request::get_max_mem_slots));
}

// Pitfall 15: a request we cannot answer (SET_LOG_BASE without LOG_SHMFD) never leaves the
// front-end waiting: the connection is closed and the front-end sees EOF.
TEST(BackendConnection, Pitfall15_UnansweredLogBaseClosesInsteadOfHanging) {
  Harness h;
  h.negotiate();
  auto log = MemfdMapping::create("vu-log", 4096).value();
  EXPECT_FALSE(h.send(Harness::msg(Request::set_log_base, std::array<uint64_t, 2>{4096, 0}), {log.fd()}).ok());
  EXPECT_TRUE(h.closed());
}

// Pitfall 16: spurious kicks and call fd changes while running are harmless.
TEST(BackendConnection, Pitfall16_CallFdReplacedWhileRunning) {
  Harness h;
  h.negotiate();
  h.set_mem_table();
  h.setup_ring(0);
  auto newcall = make_eventfd().value();
  const size_t before = h.dev.count(Hook::set_call_fd);  // setup_ring sends CALL after KICK
  ASSERT_EQ(h.acked(Harness::msg(Request::set_vring_call, uint64_t{0}), {newcall.get()}), 0u);
  ASSERT_EQ(h.dev.count(Hook::set_call_fd), before + 1);
  int fd = h.dev.running().at(0).call_fd;
  eventfd_signal(fd);  // the device's copy reaches our new eventfd
  EXPECT_EQ(eventfd_drain(newcall.get()), 1u);
  ASSERT_EQ(h.acked(Harness::msg(Request::set_vring_call, uint64_t{0} | kVringNoFd)), 0u);
  EXPECT_EQ(h.dev.running().at(0).call_fd, -1);
  EXPECT_EQ(h.dev.count(Hook::stop_ring), 0u);
}

TEST(BackendConnection, KickNoFdMeansPolling) {
  Harness h;
  h.negotiate();
  h.set_mem_table();
  ASSERT_TRUE(h.send(Harness::msg(Request::set_vring_num, VringState{0, 64})).ok());
  ASSERT_TRUE(h.send(h.addr_msg(0)).ok());
  ASSERT_TRUE(h.send(Harness::msg(Request::set_vring_kick, uint64_t{0} | kVringNoFd)).ok());
  ASSERT_EQ(h.dev.running_count(), 1u);
  EXPECT_EQ(h.dev.running().at(0).kick_fd, -1);
}

TEST(BackendConnection, SetVringErrWithAndWithoutFd) {
  Harness h;
  h.negotiate();
  auto err = make_eventfd().value();
  EXPECT_EQ(h.acked(Harness::msg(Request::set_vring_err, uint64_t{1}), {err.get()}), 0u);
  EXPECT_EQ(h.acked(Harness::msg(Request::set_vring_err, uint64_t{1} | kVringNoFd)), 0u);
}

// QEMU sets the error fd before the ring starts; a late one restarts a running ring so that
// the device never keeps the number of an fd that is closed.
TEST(BackendConnection, SetVringErrReachesTheDevice) {
  Harness h;
  h.negotiate();
  h.set_mem_table();
  auto err = make_eventfd().value();
  ASSERT_EQ(h.acked(Harness::msg(Request::set_vring_err, uint64_t{0}), {err.get()}), 0u);
  h.setup_ring(0);
  int fd = h.dev.running().at(0).err_fd;
  ASSERT_GE(fd, 0);
  eventfd_signal(fd);  // the device's copy reaches our eventfd
  EXPECT_EQ(eventfd_drain(err.get()), 1u);

  auto newerr = make_eventfd().value();
  ASSERT_EQ(h.acked(Harness::msg(Request::set_vring_err, uint64_t{0}), {newerr.get()}), 0u);
  EXPECT_EQ(h.dev.count(Hook::stop_ring), 1u);
  EXPECT_EQ(h.dev.count(Hook::start_ring), 2u);
  eventfd_signal(h.dev.running().at(0).err_fd);
  EXPECT_EQ(eventfd_drain(newerr.get()), 1u);
  ASSERT_EQ(h.acked(Harness::msg(Request::set_vring_err, uint64_t{0} | kVringNoFd)), 0u);
  EXPECT_EQ(h.dev.running().at(0).err_fd, -1);
}

TEST(BackendConnection, RarpAndMtuReachTheDevice) {
  Harness h;
  h.negotiate();
  uint8_t mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
  uint64_t v = 0;
  std::memcpy(&v, mac, 6);
  EXPECT_EQ(h.acked(Harness::msg(Request::send_rarp, v)), 0u);
  EXPECT_EQ(h.acked(Harness::msg(Request::net_set_mtu, uint64_t{9000})), 0u);
  auto calls = h.dev.calls();
  EXPECT_EQ(calls[calls.size() - 2].hook, Hook::send_rarp);
  EXPECT_EQ(calls[calls.size() - 2].value, v);
  EXPECT_EQ(calls.back().hook, Hook::set_mtu);
  EXPECT_EQ(calls.back().value, 9000u);
}

TEST(BackendConnection, ResetOwnerStopsRingsAndResetsDevice) {
  Harness h;
  h.negotiate();
  h.set_mem_table();
  h.setup_ring(0);
  ASSERT_EQ(h.acked(Harness::msg(Request::reset_owner)), 0u);
  EXPECT_EQ(h.dev.running_count(), 0u);
  EXPECT_EQ(h.dev.count(Hook::reset), 1u);
  EXPECT_EQ(h.dev.reset_with_running_rings(), 0);
  EXPECT_EQ(h.conn->memory().current(), nullptr);
  EXPECT_EQ(count_memfd_mappings("vu-test"), 1u);
}

TEST(BackendConnection, CloseStopsRingsResetsDeviceAndReleasesFdsAndMappings) {
  const size_t fds_before = count_open_fds();
  {
    Harness h;
    h.negotiate();
    h.set_mem_table();
    for (uint16_t i = 0; i < 8; ++i) h.setup_ring(i);
    ASSERT_EQ(h.dev.running_count(), 8u);
    EXPECT_EQ(count_memfd_mappings("vu-test"), 2u);
    h.peer.close();  // front-end goes away
    EXPECT_FALSE(h.conn->on_readable().ok());
    EXPECT_TRUE(h.closed());
    EXPECT_EQ(h.dev.running_count(), 0u);
    EXPECT_EQ(h.dev.count(Hook::reset), 1u);
    EXPECT_EQ(count_memfd_mappings("vu-test"), 1u);
  }
  EXPECT_EQ(count_open_fds(), fds_before);
}

TEST(BackendConnection, PartialMessagesAreAssembled) {
  Harness h;
  Message m = Harness::msg(Request::get_queue_num);
  const auto* bytes = reinterpret_cast<const uint8_t*>(&m.hdr);
  for (size_t i = 0; i < sizeof(m.hdr); ++i) {
    ASSERT_TRUE(h.send_raw(bytes + i, 1).ok());
    if (i + 1 < sizeof(m.hdr)) {
      EXPECT_TRUE(h.no_reply());
    }
  }
  auto r = h.reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->u64(), 4u);
}

}  // namespace
}  // namespace vnet::vhost_user::testing
