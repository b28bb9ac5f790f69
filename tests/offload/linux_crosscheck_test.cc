// Cross-check against the Linux stack: segments produced by the Segmenter (and a frame completed
// by complete_checksum) are written into a TAP device in a private network namespace and must
// be accepted by kernel sockets: a TCP connection's byte stream (the kernel drops segments with
// a bad checksum, a wrong sequence number or a wrong IP length), USO datagrams and UFO fragments
// reassembled into one datagram. Needs root and /dev/net/tun; fails loudly when they are absent.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "offload/checksum.h"
#include "offload/segmenter.h"
#include "offload_test_frames.h"

namespace vnet::offload {
namespace {

using namespace testing;
using Clock = std::chrono::steady_clock;

constexpr char kTap[] = "vofl0";
constexpr uint16_t kPeerPort = 40000, kPort = 5201;  // as build_frame writes them
// build_frame's IPv6 addresses are arbitrary; these replace them so that the kernel owns dst.
const uint8_t kSrc6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const uint8_t kDst6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe};

std::string requirements_problem() {
  if (geteuid() != 0) return "needs root (TAP device and network namespace)";
  if (access("/dev/net/tun", R_OK | W_OK) != 0) return "needs /dev/net/tun";
  if (access("/usr/sbin/ip", X_OK) != 0 && access("/sbin/ip", X_OK) != 0 && access("/usr/bin/ip", X_OK) != 0)
    return "needs iproute2 (ip)";
  return "";
}

// Runs a shell command with a hard timeout; returns "" on success, else a description.
std::string sh(const std::string& cmd) {
  const std::string full = "timeout 10 sh -c '" + cmd + "' 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return "popen failed for: " + cmd;
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, p)) out += buf;
  const int st = pclose(p);
  if (st != 0) return "'" + cmd + "' failed: " + out;
  return "";
}

// Runs body on a thread inside a fresh network namespace (unshare is per thread for CLONE_NEWNET;
// the namespace disappears with the thread and its fds) holding a configured TAP (no vnet header:
// we write finished frames, as the software fallback does for a destination without offloads).
void in_netns_with_tap(const std::function<void(int tap)>& body) {
  const std::string problem = requirements_problem();
  ASSERT_EQ(problem, "") << "Linux cross-check cannot run: " << problem;
  std::thread t([&] {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET): " << strerror(errno);
    const int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    ASSERT_GE(fd, 0) << strerror(errno);
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, kTap, IFNAMSIZ - 1);
    ASSERT_EQ(ioctl(fd, TUNSETIFF, &ifr), 0) << strerror(errno);
    const std::string setup =
        "ip link set lo up && ip link set vofl0 address 52:54:00:12:34:56 && ip link set vofl0 up && "
        "ip addr add 10.0.0.254/24 dev vofl0 && ip -6 addr add fd00::fe/64 dev vofl0 nodad && "
        "ip neigh replace 10.0.0.1 lladdr 52:54:00:ab:cd:ef dev vofl0 nud permanent && "
        "ip -6 neigh replace fd00::1 lladdr 52:54:00:ab:cd:ef dev vofl0 nud permanent";
    const std::string err = sh(setup);
    if (err.empty()) {
      body(fd);
    } else {
      ADD_FAILURE() << err;
    }
    close(fd);
  });
  t.join();
}

void write_frame(int tap, const uint8_t* p, size_t n) {
  ASSERT_EQ(write(tap, p, n), static_cast<ssize_t>(n)) << strerror(errno);
}

void use_v6_addresses(Built& b) {
  std::memcpy(&b.bytes[b.l3 + 8], kSrc6, 16);
  std::memcpy(&b.bytes[b.l3 + 24], kDst6, 16);
}

// Recomputes the full transport checksum of a (non-GSO) frame.
void fix_checksum(Built& b, bool ipv6, uint8_t proto) {
  const uint32_t field = b.l4 + (proto == 6 ? 16 : 6);
  b.bytes[field] = b.bytes[field + 1] = 0;
  const uint16_t c = l4_verify(b.bytes.data(), b.l3, b.l4, static_cast<uint32_t>(b.bytes.size()) - b.l4, ipv6, proto);
  b.bytes[field] = static_cast<uint8_t>(c >> 8);
  b.bytes[field + 1] = static_cast<uint8_t>(c);
}

void put32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  const uint32_t be = htonl(x);
  std::memcpy(&v[at], &be, 4);
}

// Writes every segment of a GSO frame into the tap; returns the number written.
size_t send_segments(int tap, const Built& b, const virtio::NetHdr& h) {
  ScatteredFrame sf(b.bytes, {4096, 7, 1});
  Segmenter seg;
  EXPECT_EQ(seg.start(h, sf.view()), Verdict::ok);
  std::vector<uint8_t> buf(seg.max_segment_size());
  size_t n = 0;
  while (!seg.done()) {
    const uint32_t len = seg.next(buf.data(), static_cast<uint32_t>(buf.size()));
    if (len == 0) break;
    write_frame(tap, buf.data(), len);
    ++n;
  }
  return n;
}

// Reads frames from the tap until one is a TCP SYN-ACK to our port; returns its sequence number.
bool await_synack(int tap, bool ipv6, uint32_t& isn) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  std::vector<uint8_t> f(2048);
  while (Clock::now() < deadline) {
    pollfd p{tap, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = read(tap, f.data(), f.size());
    if (n < 14) continue;
    const uint16_t et = static_cast<uint16_t>((f[12] << 8) | f[13]);
    size_t l4;
    if (!ipv6 && et == 0x0800 && n >= 34 && f[23] == 6) {
      l4 = 14 + (f[14] & 0xf) * 4u;
    } else if (ipv6 && et == 0x86dd && n >= 54 && f[20] == 6) {
      l4 = 54;
    } else {
      continue;
    }
    if (static_cast<size_t>(n) < l4 + 20) continue;
    const uint16_t dport = static_cast<uint16_t>((f[l4 + 2] << 8) | f[l4 + 3]);
    if (dport == kPeerPort && (f[l4 + 13] & 0x12) == 0x12) {
      uint32_t s;
      std::memcpy(&s, &f[l4 + 4], 4);
      isn = ntohl(s);
      return true;
    }
  }
  return false;
}

bool recv_all(int fd, uint8_t* p, size_t n) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  size_t got = 0;
  while (got < n && Clock::now() < deadline) {
    pollfd pf{fd, POLLIN, 0};
    if (poll(&pf, 1, 100) <= 0) continue;
    const ssize_t k = recv(fd, p + got, n - got, MSG_DONTWAIT);
    if (k > 0) got += static_cast<size_t>(k);
    if (k == 0) break;
  }
  return got == n;
}

void tcp_stream_accepted(bool ipv6, bool vlan_free_mss_odd) {
  in_netns_with_tap([&](int tap) {
    const int ls = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(ls, 0);
    const int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ipv6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(kPort);
      std::memcpy(&a.sin6_addr, kDst6, 16);
      ASSERT_EQ(bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << strerror(errno);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(kPort);
      a.sin_addr.s_addr = htonl(0x0a0000fe);
      ASSERT_EQ(bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << strerror(errno);
    }
    ASSERT_EQ(listen(ls, 1), 0);

    // Handshake by hand: SYN, (kernel) SYN-ACK, ACK.
    const uint32_t isn = 0x7ffffff0;  // the stream's first byte is isn+1; crosses 2^31 on the way
    FrameSpec syn{.ipv6 = ipv6, .payload = 0, .tcp_flags = kSyn, .seq = isn};
    Built bs = build_frame(syn);
    if (ipv6) use_v6_addresses(bs);
    put32(bs.bytes, bs.l4 + 8, 0);
    fix_checksum(bs, ipv6, 6);
    write_frame(tap, bs.bytes.data(), bs.bytes.size());
    uint32_t kisn = 0;
    ASSERT_TRUE(await_synack(tap, ipv6, kisn)) << "no SYN-ACK from the kernel";
    FrameSpec ack{.ipv6 = ipv6, .payload = 0, .tcp_flags = kAck, .seq = isn + 1};
    Built ba = build_frame(ack);
    if (ipv6) use_v6_addresses(ba);
    put32(ba.bytes, ba.l4 + 8, kisn + 1);
    fix_checksum(ba, ipv6, 6);
    write_frame(tap, ba.bytes.data(), ba.bytes.size());
    pollfd p{ls, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 5000), 1) << "connection not established";
    const int cs = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(cs, 0);

    // One GSO super-frame with FIN: segmented in software, the kernel must deliver the stream.
    const uint32_t payload = 30000;
    FrameSpec data{.ipv6 = ipv6, .payload = payload, .tcp_flags = kAck | kPsh | kFin, .seq = isn + 1, .payload_seed = 3};
    Built bd = build_frame(data);
    if (ipv6) use_v6_addresses(bd);
    put32(bd.bytes, bd.l4 + 8, kisn + 1);
    const uint16_t mss = vlan_free_mss_odd ? 1001 : 1400;
    const auto h = gso_header(bd, data, ipv6 ? virtio::kNetHdrGsoTcpv6 : virtio::kNetHdrGsoTcpv4, mss);
    EXPECT_EQ(send_segments(tap, bd, h), (payload + mss - 1) / mss);
    std::vector<uint8_t> got(payload);
    ASSERT_TRUE(recv_all(cs, got.data(), got.size())) << "kernel did not deliver the whole stream";
    EXPECT_EQ(got, std::vector<uint8_t>(bd.bytes.begin() + bd.headers, bd.bytes.end()));
    // The FIN on the last segment was accepted: the stream then reads EOF.
    pollfd q{cs, POLLIN, 0};
    ASSERT_EQ(poll(&q, 1, 5000), 1);
    uint8_t x;
    EXPECT_EQ(recv(cs, &x, 1, MSG_DONTWAIT), 0) << "FIN not seen";
    close(cs);
    close(ls);
  });
}

TEST(LinuxCrossCheck, Tcp4SegmentsFormTheStream) { tcp_stream_accepted(false, false); }
TEST(LinuxCrossCheck, Tcp6SegmentsFormTheStreamOddMss) { tcp_stream_accepted(true, true); }

int udp_socket(bool ipv6) {
  const int s = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(s, 0);
  const int big = 4 << 20;
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  int rc;
  if (ipv6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(kPort);
    std::memcpy(&a.sin6_addr, kDst6, 16);
    rc = bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(kPort);
    a.sin_addr.s_addr = htonl(0x0a0000fe);
    rc = bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  EXPECT_EQ(rc, 0) << strerror(errno);
  return s;
}

// Receives one datagram (up to 64 KiB) with a deadline; returns its size or -1.
ssize_t recv_dgram(int s, std::vector<uint8_t>& buf) {
  buf.resize(65536);
  pollfd p{s, POLLIN, 0};
  if (poll(&p, 1, 3000) != 1) return -1;
  return recv(s, buf.data(), buf.size(), MSG_DONTWAIT);
}

void uso_accepted(bool ipv6) {
  in_netns_with_tap([&](int tap) {
    const int s = udp_socket(ipv6);
    const uint32_t payload = 20000;
    const uint16_t mss = 1200;
    FrameSpec spec{.ipv6 = ipv6, .udp = true, .payload = payload};
    Built b = build_frame(spec);
    if (ipv6) use_v6_addresses(b);
    const size_t n = send_segments(tap, b, gso_header(b, spec, virtio::kNetHdrGsoUdpL4, mss));
    ASSERT_EQ(n, (payload + mss - 1) / mss);
    std::vector<uint8_t> all, buf;
    for (size_t i = 0; i < n; ++i) {
      const ssize_t k = recv_dgram(s, buf);
      ASSERT_GT(k, 0) << "datagram " << i << " not delivered (bad checksum or length?)";
      all.insert(all.end(), buf.begin(), buf.begin() + k);
    }
    EXPECT_EQ(all, std::vector<uint8_t>(b.bytes.begin() + b.headers, b.bytes.end()));
    close(s);
  });
}

TEST(LinuxCrossCheck, Uso4DatagramsDelivered) { uso_accepted(false); }
TEST(LinuxCrossCheck, Uso6DatagramsDelivered) { uso_accepted(true); }

TEST(LinuxCrossCheck, UfoFragmentsReassembled) {
  in_netns_with_tap([&](int tap) {
    const int s = udp_socket(false);
    const uint32_t payload = 40000;
    FrameSpec spec{.udp = true, .payload = payload};
    Built b = build_frame(spec);
    ASSERT_GT(send_segments(tap, b, gso_header(b, spec, virtio::kNetHdrGsoUdp, 1480)), 1u);
    std::vector<uint8_t> buf;
    const ssize_t k = recv_dgram(s, buf);
    ASSERT_EQ(k, static_cast<ssize_t>(payload)) << "reassembled datagram not delivered";
    EXPECT_EQ(0, std::memcmp(buf.data(), b.bytes.data() + b.headers, payload));
    close(s);
  });
}

TEST(LinuxCrossCheck, CompletedChecksumAccepted) {
  in_netns_with_tap([&](int tap) {
    const int s = udp_socket(false);
    FrameSpec spec{.udp = true, .payload = 1001};
    Built b = build_frame(spec);  // the check field holds the pseudo-header sum, as a guest leaves it
    ScatteredFrame sf(b.bytes, {3, 5});
    const auto patch = compute_checksum_patch(csum_header(b, spec), sf.view());
    ASSERT_TRUE(patch);
    // Copy as a TX path would, writing the patch while copying.
    std::vector<uint8_t> out(b.bytes.size());
    ASSERT_EQ(copy_out(sf.view(), 0, out.data(), static_cast<uint32_t>(out.size())), out.size());
    apply_patch(*patch, 0, out.data(), static_cast<uint32_t>(out.size()));
    write_frame(tap, out.data(), out.size());
    std::vector<uint8_t> buf;
    ASSERT_EQ(recv_dgram(s, buf), 1001) << "kernel refused the completed checksum";
    EXPECT_EQ(0, std::memcmp(buf.data(), b.bytes.data() + b.headers, 1001));
    close(s);
  });
}

}  // namespace
}  // namespace vnet::offload
