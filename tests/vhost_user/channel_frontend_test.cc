// The wire layer and the front-end's error handling, against a scripted peer on a socketpair or
// a listening socket: fd passing and ownership, the request table, and a front-end that gets
// refusals, wrong replies or no reply at all (errors, never hangs).
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <thread>

#include <gtest/gtest.h>

#include "base/eventfd.h"
#include "base/unix_socket.h"
#include "test_support.h"

namespace vnet::vhost_user::testing {
namespace {

std::pair<Channel, Channel> channel_pair() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return {Channel(UniqueFd(sv[0])), Channel(UniqueFd(sv[1]))};
}

TEST(Message, TableIsCompleteAndNamed) {
  for (uint32_t r = 1; r <= 40; ++r) {
    auto info = request_info(r);
    ASSERT_TRUE(info.has_value()) << r;
    EXPECT_EQ(static_cast<uint32_t>(info->request), r);
    EXPECT_FALSE(info->name.empty());
  }
  EXPECT_FALSE(request_info(0).has_value());
  EXPECT_FALSE(request_info(41).has_value());
  EXPECT_EQ(request_name(11), "GET_VRING_BASE");
  // Requests that always reply, per the spec's "Communication" section.
  for (auto r : {Request::get_features, Request::get_protocol_features, Request::get_vring_base, Request::get_queue_num,
                 Request::get_max_mem_slots, Request::get_status, Request::get_config, Request::set_log_base})
    EXPECT_TRUE(request_info(static_cast<uint32_t>(r))->always_replies) << request_name(static_cast<uint32_t>(r));
  EXPECT_FALSE(request_info(static_cast<uint32_t>(Request::set_mem_table))->always_replies);
}

TEST(Channel, PassesMessagesWithFds) {
  auto [a, b] = channel_pair();
  auto ev = make_eventfd().value();
  int fd = ev.get();
  ASSERT_TRUE(a.send(make_message(Request::set_vring_call, uint64_t{3}), {&fd, 1}).ok());
  auto m = b.recv(1s);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->request(), Request::set_vring_call);
  EXPECT_EQ(m->u64(), 3u);
  ASSERT_EQ(m->fds.size(), 1u);
  // The received fd is the same eventfd.
  eventfd_signal(m->fds[0].get());
  EXPECT_EQ(eventfd_drain(fd), 1u);
}

TEST(Channel, ReceivedFdsAreClosedWithTheMessage) {
  auto [a, b] = channel_pair();
  auto ev = make_eventfd().value();
  int fd = ev.get();
  const size_t before = count_open_fds();
  ASSERT_TRUE(a.send(make_message(Request::set_vring_kick, uint64_t{0}), {&fd, 1}).ok());
  {
    auto m = b.recv(1s);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(count_open_fds(), before + 1);
  }
  EXPECT_EQ(count_open_fds(), before);
}

TEST(Channel, RecvTimesOutInsteadOfHanging) {
  auto [a, b] = channel_pair();
  auto t0 = std::chrono::steady_clock::now();
  auto m = b.recv(100ms);
  EXPECT_FALSE(m.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  (void)a;
}

TEST(Channel, PeerCloseIsReported) {
  auto [a, b] = channel_pair();
  a.close();
  Message m;
  auto r = b.try_recv(m);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(b.peer_closed());
}

// A scripted back-end: accepts one connection on `path` and runs `script` on it.
class ScriptedBackend {
 public:
  template <class F>
  ScriptedBackend(const std::string& path, F script) : path_(path) {
    auto l = listen_unix(path, 0600);
    EXPECT_TRUE(l.ok());
    listener_ = std::move(l.value());
    thread_ = std::thread([this, script] {
      pollfd p{listener_.get(), POLLIN, 0};
      if (::poll(&p, 1, 5000) != 1) return;
      Channel ch(UniqueFd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC)));
      script(ch);
    });
  }
  ~ScriptedBackend() {
    thread_.join();
    ::unlink(path_.c_str());
  }

 private:
  std::string path_;
  UniqueFd listener_;
  std::thread thread_;
};

Message reply_to(const Message& m, uint64_t v) {
  Message r = make_message(m.request(), v, kVersion | kFlagReply);
  return r;
}

TEST(Frontend, RefusalUnderReplyAckIsAnError) {
  auto path = socket_path("refuse");
  ScriptedBackend be(path, [](Channel& ch) {
    auto spf = ch.recv(5s);  // SET_PROTOCOL_FEATURES(REPLY_ACK)
    auto own = ch.recv(5s);  // SET_OWNER with NEED_REPLY
    if (own.ok() && own->need_reply()) (void)ch.send(reply_to(*own, 1));
    (void)spf;
  });
  auto fe = Frontend::connect(path, 2s).value();
  ASSERT_TRUE(fe.set_protocol_features(protocol::bit(protocol::kReplyAck)).ok());
  auto st = fe.set_owner();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("refused SET_OWNER"), std::string::npos) << st.error().message();
}

TEST(Frontend, SilentBackendTimesOut) {
  auto path = socket_path("silent");
  ScriptedBackend be(path, [](Channel& ch) {
    (void)ch.recv(5s);   // GET_FEATURES, never answered
    (void)ch.recv(5s);   // waits for the front-end to give up and close
  });
  auto fe = Frontend::connect(path, 2s).value();
  fe.set_reply_timeout(200ms);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(fe.get_features().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  fe.close();
}

TEST(Frontend, WrongReplyIsAnError) {
  auto path = socket_path("wrong");
  ScriptedBackend be(path, [](Channel& ch) {
    auto m = ch.recv(5s);
    if (m.ok()) (void)ch.send(make_message(Request::get_queue_num, uint64_t{1}, kVersion | kFlagReply));
    auto m2 = ch.recv(5s);
    if (m2.ok()) (void)ch.send(make_message(Request::get_features, uint32_t{1}, kVersion | kFlagReply));  // 4 bytes
  });
  auto fe = Frontend::connect(path, 2s).value();
  EXPECT_FALSE(fe.get_features().ok()) << "reply to another request";
  EXPECT_FALSE(fe.get_features().ok()) << "reply of the wrong size";
}

TEST(Frontend, ConnectGivesUpAfterTimeout) {
  auto t0 = std::chrono::steady_clock::now();
  auto fe = Frontend::connect(socket_path("nobody"), 200ms);
  EXPECT_FALSE(fe.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST(Frontend, AcceptOneTimesOutAndCleansUp) {
  auto path = socket_path("accept");
  auto fe = Frontend::accept_one(path, 100ms);
  EXPECT_FALSE(fe.ok());
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "the listening socket is removed";
}

TEST(Frontend, BringUpRefusesRingsBeyondTheQueueCount) {
  auto path = socket_path("qnum");
  ScriptedBackend be(path, [](Channel& ch) {
    for (;;) {
      auto m = ch.recv(5s);
      if (!m) return;
      switch (m->request()) {
        case Request::get_features:
          (void)ch.send(reply_to(*m, virtio::bit(virtio::kFVersion1) | virtio::bit(virtio::kFProtocolFeatures)));
          break;
        case Request::get_protocol_features:
          (void)ch.send(reply_to(*m, protocol::bit(protocol::kMq)));
          break;
        case Request::get_queue_num:
          (void)ch.send(reply_to(*m, 1));
          break;
        default:
          break;
      }
    }
  });
  auto fe = Frontend::connect(path, 2s).value();
  DriverMemory mem(4, 64);
  BringUpConfig cfg;
  cfg.regions = {mem.region()};
  cfg.rings.push_back(FrontendRing{2, 64, mem.addresses(2)});
  auto n = fe.bring_up(cfg);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().message().find("queue pair 1"), std::string::npos) << n.error().message();
  fe.close();
}

}  // namespace
}  // namespace vnet::vhost_user::testing
