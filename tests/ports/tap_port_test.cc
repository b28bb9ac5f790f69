// TapPort against the real kernel: every test builds its own network namespaces (deleted at
// the end, which also removes any device left inside) and drives the port through the Port
// interface like a poll thread would (TapHost, TapWire). Needs root, /dev/net/tun and
// `ip netns`; fails loudly when any is missing.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <future>
#include <thread>

#include "ports/tap_port.h"
#include "tap_netns.h"
#include "tap_test_stream.h"
#include "tap_test_switch.h"

namespace vnet::ports {
namespace {

using namespace std::chrono_literals;
using testing::checked_stream;
using testing::Ip4;
using testing::iperf3;
using testing::Mac;
using testing::Netns;
using testing::TapHost;
using testing::TapWire;

class TapPortTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    problem_ = new std::string(testing::tap_requirements_problem());
    if (problem_->empty()) testing::cleanup_stale_netns();
  }
  static void TearDownTestSuite() { delete problem_; }
  void SetUp() override { ASSERT_TRUE(problem_->empty()) << "tap tests cannot run: " << *problem_; }

  static std::unique_ptr<TapPort> open_in(const Netns& ns, TapConfig c) {
    auto r = ns.in([&] { return TapPort::open(c); });
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    return r.ok() ? std::move(r.value()) : nullptr;
  }
  static std::string open_error(const Netns& ns, TapConfig c) {
    auto r = ns.in([&] { return TapPort::open(c); });
    return r.ok() ? "(opened)" : r.error().message();
  }
  // Polls a condition (bounded): used where the kernel changes state asynchronously.
  template <class F>
  static bool eventually(F cond, std::chrono::milliseconds limit = 20s) {
    for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
      if (cond()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return cond();
  }
  static void expect_consistent(const TapPort& p, uint64_t handed) {
    auto s = p.total_stats();
    EXPECT_EQ(s.tx_packets + s.tx_drops_total(), handed)
        << p.ifname() << ": every packet handed to transmit is either written or counted as a drop";
  }

  static std::string* problem_;
};
std::string* TapPortTest::problem_ = nullptr;

// ---------------------------------------------------------------------------------------------
// Errors and attaching

TEST_F(TapPortTest, NameTooLongIsRefusedBeforeTheKernel) {
  TapConfig c;
  c.name = "abcdefghijklmnop";  // 16 >= IFNAMSIZ
  auto r = TapPort::open(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("too long"), std::string::npos) << r.error().message();
}

TEST_F(TapPortTest, MissingTunDeviceIsNamed) {
  TapConfig c;
  c.name = "vntx";
  c.tun_path = "/nonexistent/net/tun";
  auto r = TapPort::open(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("/nonexistent/net/tun is not available"), std::string::npos)
      << r.error().message();
  EXPECT_EQ(r.error().sys_errno(), ENOENT);
}

TEST_F(TapPortTest, MissingCapNetAdminIsNamed) {
  Netns ns("nocap");
  auto msg = ns.in([] {
    // Capabilities are per thread: drop CAP_NET_ADMIN from this helper thread only.
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &hdr, data) != 0) return std::string("capget failed");
    data[CAP_NET_ADMIN / 32].effective &= ~(1u << (CAP_NET_ADMIN % 32));
    if (syscall(SYS_capset, &hdr, data) != 0) return std::string("capset failed");
    TapConfig c;
    c.name = "vntcap";
    auto r = TapPort::open(c);
    return r.ok() ? std::string("(opened)") : r.error().message();
  });
  EXPECT_NE(msg.find("CAP_NET_ADMIN"), std::string::npos) << msg;
}

TEST_F(TapPortTest, NameOfANonTapDeviceIsRefusedClearly) {
  Netns ns("nontap");
  ASSERT_EQ(ns.exec("ip link add vntveth type veth peer name vntpeer && ip tuntap add vnttun mode tun").status, 0);
  TapConfig c;
  c.name = "vntveth";
  auto msg = open_error(ns, c);
  EXPECT_NE(msg.find("in use by an existing veth device, not a TAP device"), std::string::npos) << msg;
  c.name = "vnttun";
  msg = open_error(ns, c);
  EXPECT_NE(msg.find("TUN (layer 3) device"), std::string::npos) << msg;
  // Nothing was changed on the devices we refused.
  EXPECT_EQ(ns.exec("ip link show vntveth && ip link show vnttun").status, 0);
}

TEST_F(TapPortTest, QueueCountMustMatchAnExistingDevice) {
  Netns ns("mq");
  ASSERT_EQ(ns.exec("ip tuntap add vntsq mode tap && ip tuntap add vntmq mode tap multi_queue").status, 0);
  TapConfig c;
  c.name = "vntsq";
  c.queues = 2;
  auto msg = open_error(ns, c);
  EXPECT_NE(msg.find("multi_queue"), std::string::npos) << msg;
  c.queues = 0;
  msg = open_error(ns, c);
  EXPECT_NE(msg.find("queues asked for"), std::string::npos) << msg;
  c.name = "vntmq";
  c.queues = 3;
  auto port = open_in(ns, c);
  ASSERT_TRUE(port);
  EXPECT_EQ(port->num_queues(), 3);
}

TEST_F(TapPortTest, AttachesToAPersistentTapAndLeavesItBehind) {
  Netns ns("persist");
  ASSERT_EQ(ns.exec("ip tuntap add vntpers mode tap").status, 0);
  TapConfig c;
  c.name = "vntpers";
  {
    auto port = open_in(ns, c);
    ASSERT_TRUE(port);
    EXPECT_EQ(port->ifname(), "vntpers");
    EXPECT_NE(ns.exec("ip link show vntpers").output.find("UP"), std::string::npos) << "link brought up";
    // A second single-queue attach is refused: the device is busy.
    auto msg = open_error(ns, c);
    EXPECT_NE(msg.find("already attached"), std::string::npos) << msg;
  }
  EXPECT_EQ(ns.exec("ip link show vntpers").status, 0) << "a persistent tap outlives the port";
}

TEST_F(TapPortTest, KernelPicksANameWhenNoneIsGivenAndTheDeviceGoesWithThePort) {
  Netns ns("auto");
  auto port = open_in(ns, TapConfig{});
  ASSERT_TRUE(port);
  EXPECT_EQ(port->ifname().rfind("tap", 0), 0u) << port->ifname();
  EXPECT_EQ(port->name(), port->ifname());
  const std::string name = port->ifname();
  EXPECT_EQ(ns.exec("ip link show " + name).status, 0);
  port.reset();
  EXPECT_NE(ns.exec("ip link show " + name).status, 0) << "a non-persistent tap is removed with its last fd";
}

// ---------------------------------------------------------------------------------------------
// The kernel on one side, our tiny host on the other

TEST_F(TapPortTest, PingBothWaysWithTheKernel) {
  Netns ns("ping");
  TapConfig c;
  c.name = "vntping";
  auto port = open_in(ns, c);
  ASSERT_TRUE(port);
  ASSERT_EQ(ns.exec("ip addr add 10.77.1.1/24 dev vntping").status, 0);
  TapHost host(*port, Mac{0x02, 0, 0, 0, 0x77, 0x02}, Ip4{10, 77, 1, 2});

  auto r = ns.exec("busybox ping -c 3 -W 3 10.77.1.2", 20);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_GE(host.echo_requests_answered(), 3u);
  EXPECT_GE(host.arp_requests_answered(), 1u);
  for (uint16_t seq = 1; seq <= 3; ++seq) EXPECT_TRUE(host.ping(Ip4{10, 77, 1, 1}, seq, 20s)) << "seq " << seq;
  EXPECT_EQ(host.bad_checksums(), 0u);
  host.stop();

  auto s = port->total_stats();
  EXPECT_GE(s.rx_packets, 6u);  // 3 echo requests + 3 echo replies at least
  EXPECT_GE(s.tx_packets, 6u);
  EXPECT_GT(s.rx_bytes, 6u * 60);
  EXPECT_EQ(s.tx_drops_total(), 0u);
  EXPECT_EQ(s.rx_drops_total(), 0u);
  EXPECT_EQ(port->device_lost(), 0u);
}

TEST_F(TapPortTest, KeepsWorkingAfterTheTapIsMovedToAnotherNamespace) {
  Netns here("mvfrom"), there("mvto");
  TapConfig c;
  c.name = "vntmv";
  auto port = open_in(here, c);
  ASSERT_TRUE(port);
  ASSERT_EQ(here.exec("ip link set vntmv netns " + there.name()).status, 0);
  // Moving a device takes it down; the new namespace's owner brings it up.
  ASSERT_EQ(there.exec("ip link set vntmv up && ip addr add 10.77.4.1/24 dev vntmv").status, 0);
  TapHost host(*port, Mac{0x02, 0, 0, 0, 0x77, 0x04}, Ip4{10, 77, 4, 2});
  EXPECT_TRUE(host.ping(Ip4{10, 77, 4, 1}, 1, 20s));
  auto r = there.exec("busybox ping -c 1 -W 3 10.77.4.2");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(port->up());
}

TEST_F(TapPortTest, LinkDownDropsAreCountedAndTheLinkRecovers) {
  Netns ns("down");
  TapConfig c;
  c.name = "vntdown";
  auto port = open_in(ns, c);
  ASSERT_TRUE(port);
  ASSERT_EQ(ns.exec("ip addr add 10.77.2.1/24 dev vntdown").status, 0);
  TapHost host(*port, Mac{0x02, 0, 0, 0, 0x77, 0x03}, Ip4{10, 77, 2, 2});
  ASSERT_TRUE(host.ping(Ip4{10, 77, 2, 1}, 1, 20s));
  ASSERT_EQ(ns.exec("ip link set vntdown down").status, 0);
  EXPECT_FALSE(host.ping(Ip4{10, 77, 2, 1}, 2, 500ms));
  EXPECT_TRUE(eventually([&] { return port->total_stats().tx_drop(TapTxDrop::link_down) >= 1; }));
  EXPECT_TRUE(port->up()) << "an administratively down link is not a lost device";
  ASSERT_EQ(ns.exec("ip link set vntdown up").status, 0);
  EXPECT_TRUE(host.ping(Ip4{10, 77, 2, 1}, 3, 20s));
}

// VLAN edits and tags as the kernel sees them: a packet socket in the namespace reports the tag
// the kernel pulled out of the frame (PACKET_AUXDATA), and frames it sends with a tag in their
// bytes must come out of receive() marked tagged with the right VID.
class PacketSocket {
 public:
  PacketSocket(const Netns& ns, const std::string& ifname) {
    fd_ = ns.in([&] {
      UniqueFd s(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
      int one = 1;
      ::setsockopt(s.get(), SOL_PACKET, PACKET_AUXDATA, &one, sizeof one);
      sockaddr_ll a{};
      a.sll_family = AF_PACKET;
      a.sll_protocol = htons(ETH_P_ALL);
      a.sll_ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
      if (a.sll_ifindex == 0 || ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) s.reset();
      ifindex_ = a.sll_ifindex;
      return s;
    });
  }
  bool ok() const { return fd_.valid(); }
  struct Frame {
    std::vector<uint8_t> bytes;
    bool vlan_valid = false;
    uint16_t tci = 0;
  };
  // Next frame with ethertype `type` (after any tag the kernel removed), within 3 s.
  std::optional<Frame> next(uint16_t type) {
    for (auto end = std::chrono::steady_clock::now() + 3s; std::chrono::steady_clock::now() < end;) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      Frame f;
      f.bytes.resize(65536);
      char ctrl[256];
      iovec iov{f.bytes.data(), f.bytes.size()};
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_control = ctrl;
      m.msg_controllen = sizeof ctrl;
      ssize_t n = ::recvmsg(fd_.get(), &m, 0);
      if (n < 14) continue;
      f.bytes.resize(static_cast<size_t>(n));
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
          tpacket_auxdata aux;
          std::memcpy(&aux, CMSG_DATA(c), sizeof aux);
          f.vlan_valid = (aux.tp_status & TP_STATUS_VLAN_VALID) != 0;
          f.tci = aux.tp_vlan_tci;
        }
      if (((f.bytes[12] << 8) | f.bytes[13]) == type) return f;
    }
    return std::nullopt;
  }
  bool send(const std::vector<uint8_t>& frame) {
    sockaddr_ll a{};
    a.sll_family = AF_PACKET;
    a.sll_ifindex = ifindex_;
    a.sll_halen = 6;
    return ::sendto(fd_.get(), frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) ==
           static_cast<ssize_t>(frame.size());
  }

 private:
  UniqueFd fd_;
  int ifindex_ = 0;
};

std::vector<uint8_t> test_frame(uint16_t type, size_t payload, std::optional<uint16_t> tag = std::nullopt) {
  std::vector<uint8_t> f{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0x77, 0x09};
  f.reserve(f.size() + 6 + payload);
  if (tag) {
    // push_back rather than insert({..}): GCC 12 -O2 warns falsely (array-bounds) on the latter.
    for (uint8_t b : {uint8_t{0x81}, uint8_t{0x00}, static_cast<uint8_t>(*tag >> 8), static_cast<uint8_t>(*tag)}) f.push_back(b);
  }
  f.push_back(static_cast<uint8_t>(type >> 8));
  f.push_back(static_cast<uint8_t>(type));
  for (size_t i = 0; i < payload; ++i) f.push_back(static_cast<uint8_t>(i * 7));
  return f;
}

TEST_F(TapPortTest, VlanEditsAndTagsAsTheKernelSeesThem) {
  Netns ns("vlan");
  TapConfig c;
  c.name = "vntvlan";
  auto port = open_in(ns, c);
  ASSERT_TRUE(port);
  PacketSocket sock(ns, "vntvlan");
  ASSERT_TRUE(sock.ok());

  auto transmit = [&](std::vector<uint8_t>& bytes, dataplane::VlanEdit edit, uint16_t vid) {
    HostSpan span{bytes.data(), static_cast<uint32_t>(bytes.size())};
    dataplane::Packet pkt;
    pkt.spans = &span;
    pkt.nspans = 1;
    pkt.len = span.len;
    pkt.tagged = bytes[12] == 0x81 && bytes[13] == 0x00;
    dataplane::TxItem item{&pkt, edit, vid};
    port->transmit(0, &item, 1);
  };
  // push: the kernel finds tag 42 in front of our ethertype.
  auto plain = test_frame(0x88b5, 100);
  transmit(plain, dataplane::VlanEdit::push, 42);
  auto got = sock.next(0x88b5);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->vlan_valid);
  EXPECT_EQ(got->tci & 0x0fff, 42);
  EXPECT_EQ(got->bytes, plain) << "the kernel strips the tag into metadata; the rest is the frame";
  // pop: a tagged frame arrives untagged.
  auto tagged = test_frame(0x88b6, 100, 99);
  transmit(tagged, dataplane::VlanEdit::pop, 0);
  got = sock.next(0x88b6);
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->vlan_valid);
  EXPECT_EQ(got->bytes, test_frame(0x88b6, 100));
  EXPECT_EQ(port->total_stats().tx_packets, 2u);
  EXPECT_EQ(port->total_stats().tx_bytes, plain.size() + 4 + tagged.size() - 4);

  // Kernel -> us: a frame sent with a tag in its bytes is reported tagged with its VID.
  auto from_kernel = test_frame(0x88b7, 200, 7);
  ASSERT_TRUE(sock.send(from_kernel));
  bool seen = false;
  for (auto end = std::chrono::steady_clock::now() + 3s; !seen && std::chrono::steady_clock::now() < end;) {
    dataplane::Packet pkts[dataplane::kBurstSize];
    uint16_t n = port->receive(0, pkts, dataplane::kBurstSize);
    for (uint16_t i = 0; i < n; ++i) {
      const auto& p = pkts[i];
      ASSERT_EQ(p.nspans, 1);
      std::vector<uint8_t> bytes(p.spans[0].data + p.offset, p.spans[0].data + p.offset + p.len);
      if (bytes.size() < 18 || bytes[16] != 0x88 || bytes[17] != 0xb7) continue;
      seen = true;
      EXPECT_TRUE(p.tagged);
      EXPECT_EQ(p.vlan, 7);
      EXPECT_EQ(bytes, from_kernel);
      EXPECT_EQ(0, std::memcmp(p.eth, from_kernel.data(), dataplane::kEthHeaderCopy));
      EXPECT_EQ(p.hdr.gso_type, virtio::kNetHdrGsoNone);
      EXPECT_EQ(p.hdr.num_buffers, 0);
    }
    port->receive_done(0);
    if (n == 0 && !port->enable_notify(0)) {
      pollfd pfd{port->wait_fd(0), POLLIN, 0};
      ::poll(&pfd, 1, 100);
    }
  }
  EXPECT_TRUE(seen);
}

// ---------------------------------------------------------------------------------------------
// Two taps joined by our wire, each with its kernel side in its own namespace

struct Pair {
  // offloads: TUNSETOFFLOAD on both taps (the default of TapPort::open); off keeps every frame
  // within the MTU.
  Pair(const char* tag, uint16_t queues, uint32_t mtu, bool offloads = false)
      : ns_a(std::string(tag) + "a"), ns_b(std::string(tag) + "b") {
    TapConfig c;
    c.queues = queues;
    c.mtu = mtu;
    c.name = "vnta";
    a = ns_a.in([&] { return TapPort::open(c, offloads); });
    c.name = "vntb";
    b = ns_b.in([&] { return TapPort::open(c, offloads); });
    if (!a.ok() || !b.ok()) return;
    ok = ns_a.exec("ip addr add 10.77.0.1/24 dev vnta").status == 0 &&
         ns_b.exec("ip addr add 10.77.0.2/24 dev vntb").status == 0;
    if (ok) wire = std::make_unique<TapWire>(*a.value(), *b.value());
  }
  std::string error() const {
    if (!a.ok()) return a.error().message();
    if (!b.ok()) return b.error().message();
    return ok ? "" : "address setup failed";
  }
  TapPort& pa() { return *a.value(); }
  TapPort& pb() { return *b.value(); }
  Netns ns_a, ns_b;
  Result<std::unique_ptr<TapPort>> a{Error("")}, b{Error("")};
  bool ok = false;
  std::unique_ptr<TapWire> wire;
};

TEST_F(TapPortTest, WiredTapsCarryPingTcpAndIperf3BothWays) {
  Pair p("w", 1, 0);
  ASSERT_TRUE(p.ok) << p.error();
  auto r = p.ns_a.exec("busybox ping -c 2 -W 3 10.77.0.2");
  EXPECT_EQ(r.status, 0) << r.output;
  r = p.ns_b.exec("busybox ping -c 2 -W 3 10.77.0.1");
  EXPECT_EQ(r.status, 0) << r.output;

  auto s = checked_stream(p.ns_a, p.ns_b, "10.77.0.2", 7001, 16u << 20);
  EXPECT_TRUE(s.intact) << s.error;
  s = checked_stream(p.ns_b, p.ns_a, "10.77.0.1", 7002, 16u << 20);
  EXPECT_TRUE(s.intact) << s.error;

  auto ip = iperf3(p.ns_b, "10.77.0.2", p.ns_a, 5201, 2);
  EXPECT_TRUE(ip.error.empty()) << ip.error;
  EXPECT_GT(ip.bytes, 1u << 20);
  auto ipr = iperf3(p.ns_b, "10.77.0.2", p.ns_a, 5202, 2, "-R");
  EXPECT_TRUE(ipr.error.empty()) << ipr.error;
  EXPECT_GT(ipr.bytes, 1u << 20);
  std::printf("[ info ] iperf3 through two tap ports (sanitizer build): %.0f Mbit/s a->b, %.0f Mbit/s b->a\n",
              ip.bits_per_second / 1e6, ipr.bits_per_second / 1e6);

  p.wire->stop();
  EXPECT_LE(p.wire->max_frame(), 1514u) << "offloads are off: no frame above the MTU";
  expect_consistent(p.pa(), p.wire->handed_to_a());
  expect_consistent(p.pb(), p.wire->handed_to_b());
  EXPECT_EQ(p.pa().total_stats().tx_packets + p.pb().total_stats().tx_packets,
            p.pa().total_stats().rx_packets + p.pb().total_stats().rx_packets -
                p.pa().total_stats().tx_drops_total() - p.pb().total_stats().tx_drops_total());
}

// With offloads on, each kernel hands us its TSO super-frames and partial checksums and the
// other kernel takes them as they are: TCP streams arrive intact in kernel sockets, and frames
// far above the MTU prove the GSO headers went through.
TEST_F(TapPortTest, WiredTapsWithOffloadsCarryTsoFramesToKernelSockets) {
  Pair p("o", 1, 0, /*offloads=*/true);
  ASSERT_TRUE(p.ok) << p.error();
  EXPECT_EQ(p.pa().offloads() & kTapOffloadsNoUso, kTapOffloadsNoUso);
  EXPECT_TRUE(virtio::has(p.pa().dest_features(), virtio::kNetFGuestTso4));
  EXPECT_TRUE(virtio::has(p.pa().dest_features(), virtio::kNetFGuestCsum));
  auto r = p.ns_a.exec("busybox ping -c 1 -W 3 10.77.0.2");
  EXPECT_EQ(r.status, 0) << r.output;
  auto s = checked_stream(p.ns_a, p.ns_b, "10.77.0.2", 7005, 16u << 20);
  EXPECT_TRUE(s.intact) << s.error;
  s = checked_stream(p.ns_b, p.ns_a, "10.77.0.1", 7006, 16u << 20);
  EXPECT_TRUE(s.intact) << s.error;
  auto ip = iperf3(p.ns_b, "10.77.0.2", p.ns_a, 5203, 2);
  EXPECT_TRUE(ip.error.empty()) << ip.error;
  EXPECT_GT(ip.bytes, 1u << 20);
  std::printf("[ info ] iperf3 through two tap ports with offloads (sanitizer build): %.0f Mbit/s\n",
              ip.bits_per_second / 1e6);
  p.wire->stop();
  EXPECT_GT(p.wire->max_frame(), 1514u) << "TSO frames above the MTU went through";
  expect_consistent(p.pa(), p.wire->handed_to_a());
  expect_consistent(p.pb(), p.wire->handed_to_b());
  EXPECT_EQ(p.pa().total_stats().tx_drops_total() + p.pb().total_stats().tx_drops_total(), 0u);
}

TEST_F(TapPortTest, WiredTapsCarryJumboFramesAtMtu9000) {
  Pair p("j", 1, 9000);
  ASSERT_TRUE(p.ok) << p.error();
  EXPECT_NE(p.ns_a.exec("ip link show vnta").output.find("mtu 9000"), std::string::npos);
  auto r = p.ns_a.exec("busybox ping -c 2 -W 3 -s 8972 10.77.0.2");
  EXPECT_EQ(r.status, 0) << r.output;
  auto s = checked_stream(p.ns_a, p.ns_b, "10.77.0.2", 7003, 16u << 20);
  EXPECT_TRUE(s.intact) << s.error;
  s = checked_stream(p.ns_b, p.ns_a, "10.77.0.1", 7004, 8u << 20);
  EXPECT_TRUE(s.intact) << s.error;
  p.wire->stop();
  EXPECT_EQ(p.wire->max_frame(), 9014u) << "full-size jumbo frames went through";
}

TEST_F(TapPortTest, MultiQueueTapsSpreadSeveralFlowsOverQueues) {
  Pair p("m", 4, 0);
  ASSERT_TRUE(p.ok) << p.error();
  std::vector<std::future<testing::StreamResult>> flows;
  for (uint16_t i = 0; i < 8; ++i)
    flows.push_back(std::async(std::launch::async, [&p, i] {
      return i % 2 == 0 ? checked_stream(p.ns_a, p.ns_b, "10.77.0.2", static_cast<uint16_t>(7100 + i), 4u << 20)
                        : checked_stream(p.ns_b, p.ns_a, "10.77.0.1", static_cast<uint16_t>(7100 + i), 4u << 20);
    }));
  for (auto& f : flows) {
    auto s = f.get();
    EXPECT_TRUE(s.intact) << s.error;
  }
  auto ip = iperf3(p.ns_b, "10.77.0.2", p.ns_a, 5203, 2, "-P 4");
  EXPECT_TRUE(ip.error.empty()) << ip.error;
  p.wire->stop();
  for (TapPort* port : {&p.pa(), &p.pb()}) {
    int busy = 0;
    for (uint16_t q = 0; q < 4; ++q) busy += port->queue_stats(q).rx_packets > 100;
    EXPECT_GE(busy, 2) << port->ifname() << ": flows should land on several queues";
  }
  expect_consistent(p.pa(), p.wire->handed_to_a());
  expect_consistent(p.pb(), p.wire->handed_to_b());
}

TEST_F(TapPortTest, TapDeletedWhileTrafficRunsTakesThePortDownCleanly) {
  Pair p("d", 2, 0);
  ASSERT_TRUE(p.ok) << p.error();
  // Traffic both ways for longer than the test needs; the deletion cuts it.
  p.ns_b.exec("timeout 20 iperf3 -s -1 -B 10.77.0.2 -p 5204 >/dev/null 2>&1 &");
  ASSERT_TRUE(eventually([&] { return p.ns_b.exec("ss -Hltn 'sport = :5204'").output.find("LISTEN") != std::string::npos; }));
  auto client = std::async(std::launch::async, [&] {
    // Its peer vanishes mid-run, so iperf3 may wait on a dead connection: a short hard limit.
    return p.ns_a.exec("iperf3 -c 10.77.0.2 -p 5204 -t 3 -P 2 --connect-timeout 3000", 6);
  });
  ASSERT_TRUE(eventually([&] { return p.pb().total_stats().tx_packets > 2000; }, 10s));
  ASSERT_EQ(p.ns_a.exec("ip link del vnta").status, 0);

  ASSERT_TRUE(eventually([&] { return !p.pa().up(); }, 20s)) << "the port notices the device is gone";
  EXPECT_EQ(p.pa().state(), TapPortState::device_gone);
  EXPECT_EQ(p.pa().device_lost(), 1u);
  EXPECT_EQ(p.pa().num_queues(), 0);
  EXPECT_TRUE(p.pb().up());
  // The dead fds no longer wake a sleeping poll thread.
  for (uint16_t q = 0; q < 2; ++q) {
    EXPECT_FALSE(p.pa().enable_notify(q));
    pollfd pfd{p.pa().wait_fd(q), POLLIN, 0};
    EXPECT_EQ(::poll(&pfd, 1, 0), 0);
  }
  client.get();  // iperf3 fails or ends; it must not hang (hard timeout inside)
  p.wire->stop();

  auto sa = p.pa().total_stats();
  EXPECT_GE(sa.read_error(TapErrorKind::device_gone) + sa.write_error(TapErrorKind::device_gone), 1u);
  expect_consistent(p.pa(), p.wire->handed_to_a());
  expect_consistent(p.pb(), p.wire->handed_to_b());
  // Transmit after the loss: counted, nothing written.
  uint8_t frame[60]{};
  HostSpan span{frame, sizeof frame};
  dataplane::Packet pkt;
  pkt.spans = &span;
  pkt.nspans = 1;
  pkt.len = sizeof frame;
  dataplane::TxItem item{&pkt, dataplane::VlanEdit::none, 0};
  const auto before = p.pa().total_stats().tx_drop(TapTxDrop::port_down);
  p.pa().transmit(0, &item, 1);
  EXPECT_EQ(p.pa().total_stats().tx_drop(TapTxDrop::port_down), before + 1);
  dataplane::Packet out[4];
  EXPECT_EQ(p.pa().receive(0, out, 4), 0);
}

TEST_F(TapPortTest, PortDestroyedWhileTheKernelSendsRemovesTheDevice) {
  Netns ns("gone");
  TapConfig c;
  c.name = "vntgone";
  auto port = open_in(ns, c);
  ASSERT_TRUE(port);
  ASSERT_EQ(ns.exec("ip addr add 10.77.3.1/24 dev vntgone && ip neigh add 10.77.3.2 lladdr 02:00:00:00:00:09 dev vntgone").status, 0);
  auto flood = std::async(std::launch::async, [&] { return ns.exec("busybox ping -q -w 2 -i 0.002 10.77.3.2", 5); });
  ASSERT_TRUE(eventually([&] {
    dataplane::Packet pkts[dataplane::kBurstSize];
    uint16_t n = port->receive(0, pkts, dataplane::kBurstSize);
    port->receive_done(0);
    return n > 0;
  }));
  port.reset();
  EXPECT_TRUE(eventually([&] { return ns.exec("ip link show vntgone").status != 0; }));
  flood.get();
}

TEST_F(TapPortTest, TransmitOnAQueueThePortDoesNotHaveIsCounted) {
  Netns ns("badq");
  TapConfig c;
  c.name = "vntbadq";
  auto port = open_in(ns, c);
  ASSERT_TRUE(port);
  uint8_t frame[60]{};
  HostSpan span{frame, sizeof frame};
  dataplane::Packet pkt;
  pkt.spans = &span;
  pkt.nspans = 1;
  pkt.len = sizeof frame;
  dataplane::TxItem items[2] = {{&pkt, dataplane::VlanEdit::none, 0}, {&pkt, dataplane::VlanEdit::none, 0}};
  port->transmit(5, items, 2);
  EXPECT_EQ(port->total_stats().tx_drop(TapTxDrop::bad_queue), 2u);
  dataplane::Packet out[2];
  EXPECT_EQ(port->receive(5, out, 2), 0);
  EXPECT_EQ(port->wait_fd(5), -1);
  EXPECT_FALSE(port->enable_notify(5));
  // A packet whose spans are shorter than its length is dropped, not read past.
  pkt.len = 61;
  port->transmit(0, items, 1);
  EXPECT_EQ(port->total_stats().tx_drop(TapTxDrop::bad_packet), 1u);
}

}  // namespace
}  // namespace vnet::ports
