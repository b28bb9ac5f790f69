// Every check the back-end makes on a message, each with a message that fails it. With
// REPLY_ACK negotiated and NEED_REPLY set the bad message gets a failure reply and the
// connection stays usable; without it the connection is closed. Either way every fd that came
// with the message is closed and the device sees nothing.
#include <sys/socket.h>

#include <functional>

#include <gtest/gtest.h>

#include "harness.h"

namespace vnet::vhost_user::testing {
namespace {

enum class Outcome {
  refused,  // failure reply when asked for, else close
  closed,   // always closes (header unusable, or a request whose reply we cannot give)
};

struct Fds {
  std::vector<UniqueFd> owned;
  int memfd(size_t size) {
    auto m = MemfdMapping::create("vu-bad", size).value();
    // Keep only the fd: the case's message references the file, not our mapping.
    owned.emplace_back(::dup(m.fd()));
    return owned.back().get();
  }
  int eventfd() {
    owned.push_back(make_eventfd().value());
    return owned.back().get();
  }
};

struct Case {
  const char* name;
  Outcome outcome;
  std::function<Message(Harness&, Fds&, std::vector<int>&)> make;
};

Message with_flags(Message m, uint32_t flags) {
  m.hdr.flags = flags;
  return m;
}

Message bytes(Request r, size_t n) {
  Message m = make_message(r);
  m.payload.assign(n, 0);
  return m;
}

MemRegion region_of(Harness& h) { return h.region(); }

std::vector<Case> cases() {
  using R = Request;
  using H = Harness;
  return {
      // Header.
      {"version_0", Outcome::closed, [](H&, Fds&, auto&) { return with_flags(H::msg(R::set_owner), 0); }},
      {"version_2", Outcome::closed, [](H&, Fds&, auto&) { return with_flags(H::msg(R::set_owner), 2); }},
      {"reply_flag_in_request", Outcome::closed, [](H&, Fds&, auto&) { return with_flags(H::msg(R::set_owner), kVersion | kFlagReply); }},
      {"unknown_flag_bits", Outcome::closed, [](H&, Fds&, auto&) { return with_flags(H::msg(R::set_owner), kVersion | 0x10); }},
      // Unknown and unsupported requests.
      {"request_0", Outcome::refused, [](H&, Fds&, auto&) { return make_message(R::none); }},
      {"request_99", Outcome::refused, [](H&, Fds&, auto&) { return bytes(static_cast<R>(99), 8); }},
      {"set_config_not_offered", Outcome::refused, [](H&, Fds&, auto&) { return bytes(R::set_config, 12); }},
      {"get_config_not_offered", Outcome::closed, [](H&, Fds&, auto&) { return bytes(R::get_config, 12); }},
      {"set_backend_req_fd_not_offered", Outcome::refused,
       [](H&, Fds& f, auto& fds) {
         fds.push_back(f.eventfd());
         return make_message(R::set_backend_req_fd);
       }},
      // Payload size per request.
      {"set_features_short", Outcome::refused, [](H&, Fds&, auto&) { return bytes(R::set_features, 4); }},
      {"set_owner_with_payload", Outcome::refused, [](H&, Fds&, auto&) { return bytes(R::set_owner, 8); }},
      {"get_features_4_bytes", Outcome::closed, [](H&, Fds&, auto&) { return bytes(R::get_features, 4); }},
      {"set_vring_num_long", Outcome::refused, [](H&, Fds&, auto&) { return bytes(R::set_vring_num, 12); }},
      {"set_vring_addr_short", Outcome::refused, [](H&, Fds&, auto&) { return bytes(R::set_vring_addr, 32); }},
      {"add_mem_reg_short", Outcome::refused,
       [](H&, Fds& f, auto& fds) {
         fds.push_back(f.memfd(4096));
         return bytes(R::add_mem_reg, 32);
       }},
      {"get_vring_base_short", Outcome::closed, [](H&, Fds&, auto&) { return bytes(R::get_vring_base, 4); }},
      // Fd counts.
      {"fd_on_set_features", Outcome::refused,
       [](H& h, Fds& f, auto& fds) {
         fds.push_back(f.eventfd());
         return H::msg(R::set_features, h.conn->offered_features());
       }},
      {"kick_without_fd_or_nofd", Outcome::refused, [](H&, Fds&, auto&) { return H::msg(R::set_vring_kick, uint64_t{0}); }},
      {"kick_nofd_with_fd", Outcome::refused,
       [](H&, Fds& f, auto& fds) {
         fds.push_back(f.eventfd());
         return H::msg(R::set_vring_kick, uint64_t{0} | kVringNoFd);
       }},
      {"call_two_fds", Outcome::refused,
       [](H&, Fds& f, auto& fds) {
         fds.push_back(f.eventfd());
         fds.push_back(f.eventfd());
         return H::msg(R::set_vring_call, uint64_t{0});
       }},
      {"add_mem_reg_without_fd", Outcome::refused,
       [](H& h, Fds&, auto&) { return H::msg(R::add_mem_reg, SingleMemRegion{0, region_of(h)}); }},
      {"rem_mem_reg_two_fds", Outcome::refused,
       [](H& h, Fds& f, auto& fds) {
         fds.push_back(f.eventfd());
         fds.push_back(f.eventfd());
         return H::msg(R::rem_mem_reg, SingleMemRegion{0, region_of(h)});
       }},
      {"mem_table_missing_fd", Outcome::refused,
       [](H& h, Fds&, auto&) {
         MemRegion r = region_of(h);
         return h.mem_table_msg({&r, 1});
       }},
      {"mem_table_extra_fd", Outcome::refused,
       [](H& h, Fds& f, auto& fds) {
         MemRegion r = region_of(h);
         fds.push_back(h.mem.mem.fd());
         fds.push_back(f.memfd(4096));
         return h.mem_table_msg({&r, 1});
       }},
      // Fd kinds.
      {"kick_fd_not_eventfd", Outcome::refused,
       [](H&, Fds& f, auto& fds) {
         fds.push_back(f.memfd(4096));
         return H::msg(R::set_vring_kick, uint64_t{0});
       }},
      {"call_fd_not_eventfd", Outcome::refused,
       [](H&, Fds& f, auto& fds) {
         fds.push_back(f.memfd(4096));
         return H::msg(R::set_vring_call, uint64_t{1});
       }},
      // Queue indexes (4 queue pairs: rings 0..7).
      {"kick_index_8", Outcome::refused,
       [](H&, Fds& f, auto& fds) {
         fds.push_back(f.eventfd());
         return H::msg(R::set_vring_kick, uint64_t{8});
       }},
      {"call_index_255", Outcome::refused, [](H&, Fds&, auto&) { return H::msg(R::set_vring_call, uint64_t{255} | kVringNoFd); }},
      {"kick_reserved_bits", Outcome::refused, [](H&, Fds&, auto&) { return H::msg(R::set_vring_kick, uint64_t{0x200} | kVringNoFd); }},
      {"num_index_8", Outcome::refused, [](H&, Fds&, auto&) { return H::msg(R::set_vring_num, VringState{8, 256}); }},
      {"base_index_huge", Outcome::refused, [](H&, Fds&, auto&) { return H::msg(R::set_vring_base, VringState{0xffffffff, 0}); }},
      {"enable_index_8", Outcome::refused, [](H&, Fds&, auto&) { return H::msg(R::set_vring_enable, VringState{8, 1}); }},
      {"addr_index_9", Outcome::refused,
       [](H& h, Fds&, auto&) {
         Message m = h.addr_msg(0);
         m.payload[0] = 9;
         return m;
       }},
      {"get_vring_base_index_8", Outcome::closed, [](H&, Fds&, auto&) { return H::msg(R::get_vring_base, VringState{8, 0}); }},
      // Ring sizes.
      {"ring_size_0", Outcome::refused, [](H&, Fds&, auto&) { return H::msg(R::set_vring_num, VringState{1, 0}); }},
      {"ring_size_255", Outcome::refused, [](H&, Fds&, auto&) { return H::msg(R::set_vring_num, VringState{1, 255}); }},
      {"ring_size_65536", Outcome::refused, [](H&, Fds&, auto&) { return H::msg(R::set_vring_num, VringState{1, 65536}); }},
      {"ring_base_17_bits", Outcome::refused, [](H&, Fds&, auto&) { return H::msg(R::set_vring_base, VringState{1, 0x10000}); }},
      {"enable_value_2", Outcome::refused, [](H&, Fds&, auto&) { return H::msg(R::set_vring_enable, VringState{1, 2}); }},
      // Ring addresses (ring 0 has num 256 and the memory table is set).
      {"addr_unknown_flags", Outcome::refused,
       [](H& h, Fds&, auto&) {
         Message m = h.addr_msg(0);
         m.payload[4] = 2;
         return m;
       }},
      {"addr_outside_memory", Outcome::refused,
       [](H& h, Fds&, auto&) {
         auto a = h.mem.addresses(0);
         return H::msg(R::set_vring_addr, VringAddr{0, 0, 0x1000, a.used, a.avail, 0});
       }},
      {"addr_crosses_region_end", Outcome::refused,
       [](H& h, Fds&, auto&) {
         auto a = h.mem.addresses(0);
         uint64_t end = h.region().userspace_addr + h.region().memory_size;
         return H::msg(R::set_vring_addr, VringAddr{0, 0, a.desc, end - 64, a.avail, 0});
       }},
      {"addr_misaligned_desc", Outcome::refused,
       [](H& h, Fds&, auto&) {
         auto a = h.mem.addresses(0);
         return H::msg(R::set_vring_addr, VringAddr{0, 0, a.desc + 8, a.used, a.avail, 0});
       }},
      {"addr_misaligned_used", Outcome::refused,
       [](H& h, Fds&, auto&) {
         auto a = h.mem.addresses(0);
         return H::msg(R::set_vring_addr, VringAddr{0, 0, a.desc, a.used + 2, a.avail, 0});
       }},
      // Memory tables and regions.
      {"mem_table_0_regions", Outcome::refused, [](H& h, Fds&, auto&) { return h.mem_table_msg({}); }},
      {"mem_table_9_regions", Outcome::refused,
       [](H&, Fds&, auto&) {
         Message m = bytes(R::set_mem_table, 8 + 9 * 32);
         m.payload[0] = 9;
         return m;
       }},
      {"mem_table_size_mismatch", Outcome::refused,
       [](H& h, Fds&, auto& fds) {
         MemRegion r = region_of(h);
         Message m = h.mem_table_msg({&r, 1});
         m.payload[0] = 2;  // says 2 regions, carries 1
         fds.push_back(h.mem.mem.fd());
         fds.push_back(h.mem.mem.fd());
         return m;
       }},
      {"region_size_0", Outcome::refused,
       [](H& h, Fds&, auto& fds) {
         MemRegion r = region_of(h);
         r.memory_size = 0;
         fds.push_back(h.mem.mem.fd());
         return h.mem_table_msg({&r, 1});
       }},
      {"region_offset_overflow", Outcome::refused,
       [](H& h, Fds&, auto& fds) {
         MemRegion r = region_of(h);
         r.mmap_offset = ~uint64_t{0} - 100;
         fds.push_back(h.mem.mem.fd());
         return h.mem_table_msg({&r, 1});
       }},
      {"region_gpa_wraps", Outcome::refused,
       [](H& h, Fds&, auto& fds) {
         MemRegion r = region_of(h);
         r.guest_phys_addr = ~uint64_t{0} - 100;
         fds.push_back(h.mem.mem.fd());
         return h.mem_table_msg({&r, 1});
       }},
      {"region_beyond_file_end", Outcome::refused,
       [](H& h, Fds& f, auto& fds) {
         MemRegion r = region_of(h);
         fds.push_back(f.memfd(4096));  // region says 100+ KiB: SIGBUS if mapped and touched
         return h.mem_table_msg({&r, 1});
       }},
      {"region_fd_is_eventfd", Outcome::refused,
       [](H& h, Fds& f, auto& fds) {
         MemRegion r = region_of(h);
         fds.push_back(f.eventfd());
         return h.mem_table_msg({&r, 1});
       }},
      {"regions_overlap", Outcome::refused,
       [](H& h, Fds&, auto& fds) {
         MemRegion r[2] = {region_of(h), region_of(h)};
         r[1].userspace_addr += 1 << 30;  // same GPA range, different VA
         fds.push_back(h.mem.mem.fd());
         fds.push_back(h.mem.mem.fd());
         return h.mem_table_msg(r);
       }},
      {"add_mem_reg_overlapping", Outcome::refused,
       [](H& h, Fds&, auto& fds) {
         MemRegion r = region_of(h);
         r.memory_size -= 4096;  // not identical to the installed region, but overlapping it
         fds.push_back(h.mem.mem.fd());
         return H::msg(R::add_mem_reg, SingleMemRegion{0, r});
       }},
      {"add_mem_reg_beyond_file_end", Outcome::refused,
       [](H&, Fds& f, auto& fds) {
         fds.push_back(f.memfd(4096));
         return H::msg(R::add_mem_reg, SingleMemRegion{0, MemRegion{1ull << 40, 1 << 20, 1ull << 44, 0}});
       }},
      // Values.
      {"features_not_offered", Outcome::refused,
       [](H& h, Fds&, auto&) { return H::msg(R::set_features, h.conn->offered_features() | virtio::bit(virtio::kFRingPacked)); }},
      {"protocol_features_config", Outcome::refused,
       [](H&, Fds&, auto&) { return H::msg(R::set_protocol_features, kBackendProtocolFeatures | protocol::bit(protocol::kConfig)); }},
      {"mtu_too_small", Outcome::refused, [](H&, Fds&, auto&) { return H::msg(R::net_set_mtu, uint64_t{10}); }},
      {"mtu_too_large", Outcome::refused, [](H&, Fds&, auto&) { return H::msg(R::net_set_mtu, uint64_t{70000}); }},
      {"status_9_bits", Outcome::refused, [](H&, Fds&, auto&) { return H::msg(R::set_status, uint64_t{0x100}); }},
  };
}

class Malformed : public ::testing::TestWithParam<std::tuple<size_t, bool>> {};

TEST_P(Malformed, IsRefusedOrClosesWithoutSideEffects) {
  const auto [index, ask_reply] = GetParam();
  const Case c = cases()[index];
  SCOPED_TRACE(c.name);
  Harness h;
  h.negotiate(/*ack=*/true);
  h.set_mem_table();
  ASSERT_TRUE(h.send(Harness::msg(Request::set_vring_num, VringState{0, h.mem.qsize})).ok());
  const size_t starts = h.dev.count(Hook::start_ring);
  const size_t fds_before = count_open_fds();
  const size_t regions_before = h.conn->memory().current()->regions().size();
  Status st;
  uint32_t request = 0;
  {
    Fds owned;
    std::vector<int> fds;
    Message m = c.make(h, owned, fds);
    if (ask_reply) m.hdr.flags |= kFlagNeedReply;
    request = m.hdr.request;
    st = h.send(m, fds);
  }  // our copies of the fds are closed here

  if (c.outcome == Outcome::refused && ask_reply) {
    ASSERT_TRUE(st.ok()) << st.error().message();
    auto r = h.reply();
    ASSERT_TRUE(r.has_value()) << "a refused request with NEED_REPLY gets an answer";
    EXPECT_EQ(r->hdr.request, request);
    EXPECT_NE(r->u64(), 0u);
    EXPECT_TRUE(h.no_reply());
    EXPECT_FALSE(h.closed());
    EXPECT_EQ(count_open_fds(), fds_before) << "every fd of the refused message is closed";
    EXPECT_EQ(h.conn->memory().current()->regions().size(), regions_before);
    EXPECT_EQ(h.get_u64(Request::get_queue_num), 4u) << "the connection still works";
  } else {
    EXPECT_FALSE(st.ok());
    EXPECT_TRUE(h.closed());
    EXPECT_TRUE(h.no_reply());
    EXPECT_EQ(count_open_fds(), fds_before - 1) << "the connection's socket and every fd it held are closed";
    EXPECT_EQ(h.conn->memory().current(), nullptr);
    EXPECT_EQ(count_memfd_mappings("vu-test"), 1u);
  }
  EXPECT_EQ(h.dev.count(Hook::start_ring), starts);
  EXPECT_EQ(count_memfd_mappings("vu-bad"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Checks, Malformed, ::testing::Combine(::testing::Range<size_t>(0, cases().size()), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(cases()[std::get<0>(info.param)].name) + (std::get<1>(info.param) ? "_need_reply" : "_no_reply");
                         });

// Framing errors the channel catches before any request handling.
TEST(MalformedFrame, PayloadAboveLimitCloses) {
  Harness h;
  MessageHeader hdr{static_cast<uint32_t>(Request::set_features), kVersion, kMaxPayloadSize + 1};
  EXPECT_FALSE(h.send_raw(&hdr, sizeof(hdr)).ok());
  EXPECT_TRUE(h.closed());
}

TEST(MalformedFrame, MoreThanEightFdsCloses) {
  Harness h;
  const size_t fds_before = count_open_fds();
  {
    std::vector<UniqueFd> evs;
    for (int i = 0; i < 12; ++i) evs.push_back(make_eventfd().value());
    MessageHeader hdr{static_cast<uint32_t>(Request::set_owner), kVersion, 0};
    iovec iov{&hdr, sizeof(hdr)};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 12)];
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof(control);
    cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * 12);
    for (int i = 0; i < 12; ++i) {
      int fd = evs[i].get();
      std::memcpy(CMSG_DATA(cm) + i * sizeof(int), &fd, sizeof(int));
    }
    ASSERT_EQ(::sendmsg(h.peer.fd(), &mh, 0), static_cast<ssize_t>(sizeof(hdr)));
  }
  EXPECT_FALSE(h.conn->on_readable().ok());
  EXPECT_TRUE(h.closed());
  EXPECT_EQ(count_open_fds(), fds_before - 1);
}

TEST(MalformedFrame, TruncatedMessageThenEofCloses) {
  Harness h;
  h.negotiate();
  MessageHeader hdr{static_cast<uint32_t>(Request::set_features), kVersion, 8};
  ASSERT_TRUE(h.send_raw(&hdr, sizeof(hdr)).ok());  // waits for the payload
  EXPECT_FALSE(h.closed());
  ::shutdown(h.peer.fd(), SHUT_WR);
  EXPECT_FALSE(h.conn->on_readable().ok());
  EXPECT_TRUE(h.closed());
}

}  // namespace
}  // namespace vnet::vhost_user::testing
