// Drives one BackendConnection synchronously from the test thread: the test writes raw
// messages (any bytes, any fds) into the other end of a socketpair, the connection handles what
// arrived, and replies are read back without blocking. No threads, no timing.
#pragma once

#include <sys/socket.h>

#include <gtest/gtest.h>

#include "base/eventfd.h"
#include "test_support.h"
#include "vhost_user/backend_connection.h"
#include "vhost_user/channel.h"

namespace vnet::vhost_user::testing {

class Harness {
 public:
  explicit Harness(uint16_t queue_pairs = 4) : dev(queue_pairs), mem(2 * queue_pairs, 256) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    conn = std::make_unique<BackendConnection>(UniqueFd(sv[0]), dev, "test");
    peer = Channel(UniqueFd(sv[1]));
    for (int i = 0; i < 2 * queue_pairs; ++i) {
      kicks.push_back(make_eventfd().value());
      calls.push_back(make_eventfd().value());
    }
  }

  FakeDevice dev;
  DriverMemory mem;
  std::unique_ptr<BackendConnection> conn;
  Channel peer;
  std::vector<UniqueFd> kicks, calls;
  Status last;

  // Sends a message and lets the connection handle everything that arrived.
  Status send(const Message& m, std::vector<int> fds = {}) {
    EXPECT_TRUE(peer.send(m, fds).ok());
    last = conn->on_readable();
    return last;
  }
  // Raw bytes (for truncated or oversized frames).
  Status send_raw(const void* data, size_t len) {
    EXPECT_EQ(::send(peer.fd(), data, len, MSG_NOSIGNAL), static_cast<ssize_t>(len));
    last = conn->on_readable();
    return last;
  }
  std::optional<Message> reply() {
    Message m;
    auto r = peer.try_recv(m);
    if (!r.ok() || !r.value()) return std::nullopt;
    return m;
  }
  bool no_reply() { return !reply().has_value(); }
  bool closed() const { return conn->closed(); }

  // A request with NEED_REPLY when `ack` (REPLY_ACK must be negotiated for it to matter).
  template <class T>
  static Message msg(Request r, const T& payload, bool ack = false) {
    return make_message(r, payload, kVersion | (ack ? kFlagNeedReply : 0));
  }
  static Message msg(Request r, bool ack = false) { return make_message(r, kVersion | (ack ? kFlagNeedReply : 0)); }

  uint64_t get_u64(Request r) {
    EXPECT_TRUE(send(msg(r)).ok());
    auto rep = reply();
    EXPECT_TRUE(rep.has_value());
    if (!rep) return ~uint64_t{0};
    EXPECT_EQ(rep->hdr.request, static_cast<uint32_t>(r));
    EXPECT_EQ(rep->hdr.flags, kVersion | kFlagReply);
    EXPECT_EQ(rep->payload.size(), 8u);
    return rep->u64();
  }
  // Sends with NEED_REPLY and returns the ack code (REPLY_ACK negotiated).
  uint64_t acked(Message m, std::vector<int> fds = {}) {
    m.hdr.flags |= kFlagNeedReply;
    EXPECT_TRUE(send(m, fds).ok()) << last.error().message();
    auto rep = reply();
    EXPECT_TRUE(rep.has_value()) << "no ack for " << request_name(m.hdr.request);
    if (!rep) return ~uint64_t{0};
    EXPECT_EQ(rep->hdr.request, m.hdr.request);
    EXPECT_EQ(rep->payload.size(), 8u);
    return rep->u64();
  }

  // GET_FEATURES .. SET_FEATURES as QEMU does it; REPLY_ACK negotiated when `ack`.
  void negotiate(bool ack = true, bool protocol_features = true) {
    uint64_t f = get_u64(Request::get_features);
    if (protocol_features) {
      uint64_t pf = get_u64(Request::get_protocol_features);
      if (!ack) pf &= ~protocol::bit(protocol::kReplyAck);
      ASSERT_TRUE(send(msg(Request::set_protocol_features, pf)).ok());
    } else {
      f &= ~virtio::bit(virtio::kFProtocolFeatures);
    }
    ASSERT_TRUE(send(msg(Request::set_owner)).ok());
    ASSERT_TRUE(send(msg(Request::set_features, f)).ok());
    ASSERT_TRUE(no_reply());
  }
  Message mem_table_msg(std::span<const MemRegion> regions) {
    Message m = make_message(Request::set_mem_table);
    MemTableHeader h{static_cast<uint32_t>(regions.size()), 0};
    m.payload.resize(sizeof(h) + regions.size() * sizeof(MemRegion));
    std::memcpy(m.payload.data(), &h, sizeof(h));
    if (!regions.empty()) std::memcpy(m.payload.data() + sizeof(h), regions.data(), regions.size() * sizeof(MemRegion));
    return m;
  }
  MemRegion region() const {
    auto r = mem.region();
    return MemRegion{r.guest_phys_addr, r.size, r.user_addr, r.mmap_offset};
  }
  void set_mem_table() {
    MemRegion r = region();
    ASSERT_TRUE(send(mem_table_msg({&r, 1}), {mem.mem.fd()}).ok()) << last.error().message();
  }
  Message addr_msg(uint16_t i) const {
    auto a = mem.addresses(i);
    return msg(Request::set_vring_addr, VringAddr{i, 0, a.desc, a.used, a.avail, 0});
  }
  // NUM, BASE, ADDR, KICK, CALL (QEMU's order, CALL moved last here).
  void setup_ring(uint16_t i, uint16_t base = 0) {
    ASSERT_TRUE(send(msg(Request::set_vring_num, VringState{i, mem.qsize})).ok());
    ASSERT_TRUE(send(msg(Request::set_vring_base, VringState{i, base})).ok());
    ASSERT_TRUE(send(addr_msg(i)).ok());
    ASSERT_TRUE(send(msg(Request::set_vring_kick, uint64_t{i}), {kicks[i].get()}).ok());
    ASSERT_TRUE(send(msg(Request::set_vring_call, uint64_t{i}), {calls[i].get()}).ok());
  }
  void enable(uint16_t i, bool on = true) {
    ASSERT_TRUE(send(msg(Request::set_vring_enable, VringState{i, on ? 1u : 0u})).ok());
  }
  uint16_t get_vring_base(uint16_t i) {
    EXPECT_TRUE(send(msg(Request::get_vring_base, VringState{i, 0})).ok());
    auto rep = reply();
    EXPECT_TRUE(rep.has_value());
    if (!rep) return 0xffff;
    auto st = rep->as<VringState>();
    EXPECT_EQ(st.index, i);
    return static_cast<uint16_t>(st.num);
  }
};

}  // namespace vnet::vhost_user::testing
