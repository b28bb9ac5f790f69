#include "tap_test_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/fd.h"

namespace vnet::ports::testing {
namespace {

// Byte i of the stream: derived from i alone so the receiver checks without shared state.
uint8_t stream_byte(uint64_t i, uint64_t seed) {
  uint64_t z = (i / 8) + seed * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<uint8_t>(z >> (8 * (i % 8)));
}

void set_timeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

sockaddr_in addr(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

}  // namespace

StreamResult checked_stream(const Netns& from, const Netns& to, const std::string& to_ip, uint16_t port,
                            uint64_t bytes, int timeout_s) {
  StreamResult res;
  const uint64_t seed = port;
  UniqueFd listener = to.in([&] {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto a = addr(to_ip, port);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s.get(), 1) != 0)
      s.reset();
    return s;
  });
  if (!listener) return {0, false, fmt::format("listen on {}:{}: {}", to_ip, port, std::strerror(errno))};

  auto receiver = std::async(std::launch::async, [&]() -> StreamResult {
    pollfd p{listener.get(), POLLIN, 0};
    if (::poll(&p, 1, timeout_s * 1000) != 1) return {0, false, "no connection arrived"};
    UniqueFd c(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) return {0, false, "accept failed"};
    set_timeouts(c.get(), timeout_s);
    std::vector<uint8_t> buf(256 * 1024);
    StreamResult r;
    r.intact = true;
    for (;;) {
      ssize_t n = ::recv(c.get(), buf.data(), buf.size(), 0);
      if (n == 0) break;
      if (n < 0) return {r.received, false, fmt::format("recv: {}", std::strerror(errno))};
      for (ssize_t i = 0; i < n && r.intact; ++i)
        if (buf[static_cast<size_t>(i)] != stream_byte(r.received + static_cast<uint64_t>(i), seed)) {
          r.intact = false;
          r.error = fmt::format("byte {} differs", r.received + static_cast<uint64_t>(i));
        }
      r.received += static_cast<uint64_t>(n);
    }
    if (r.received != bytes) {
      r.intact = false;
      r.error += fmt::format(" got {} bytes of {}", r.received, bytes);
    }
    return r;
  });

  std::string send_error = from.in([&]() -> std::string {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    set_timeouts(s.get(), timeout_s);
    auto a = addr(to_ip, port);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      return fmt::format("connect: {}", std::strerror(errno));
    std::vector<uint8_t> buf(256 * 1024);
    for (uint64_t sent = 0; sent < bytes;) {
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(buf.size(), bytes - sent));
      for (size_t i = 0; i < chunk; ++i) buf[i] = stream_byte(sent + i, seed);
      size_t off = 0;
      while (off < chunk) {
        ssize_t n = ::send(s.get(), buf.data() + off, chunk - off, MSG_NOSIGNAL);
        if (n <= 0) return fmt::format("send: {}", std::strerror(errno));
        off += static_cast<size_t>(n);
      }
      sent += chunk;
    }
    ::shutdown(s.get(), SHUT_WR);
    // Wait for the receiver's close so the stream is fully through before we return.
    char c;
    (void)::recv(s.get(), &c, 1, 0);
    return "";
  });
  res = receiver.get();
  if (!send_error.empty()) {
    res.intact = false;
    res.error = send_error + "; " + res.error;
  }
  return res;
}

IperfResult iperf3(const Netns& server, const std::string& server_ip, const Netns& client, uint16_t port,
                   int seconds, const std::string& extra) {
  IperfResult r;
  server.exec(fmt::format("timeout {} iperf3 -s -1 -B {} -p {} >/dev/null 2>&1 &", seconds + 30, server_ip, port));
  // Wait for the listener instead of sleeping a fixed time.
  bool listening = false;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       std::chrono::steady_clock::now() < deadline;) {
    auto ss = server.exec(fmt::format("ss -Hltn 'sport = :{}'", port), 5);
    if (ss.status == 0 && ss.output.find("LISTEN") != std::string::npos) {
      listening = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a condition, bounded
  }
  if (!listening) return {0, 0, "iperf3 server did not start"};
  auto c = client.exec(fmt::format("iperf3 -c {} -p {} -t {} -J {}", server_ip, port, seconds, extra), seconds + 30);
  try {
    auto j = nlohmann::json::parse(c.output);
    if (j.contains("error")) return {0, 0, j["error"].get<std::string>()};
    const auto& sum = j["end"]["sum_received"];
    r.bits_per_second = sum["bits_per_second"].get<double>();
    r.bytes = sum["bytes"].get<uint64_t>();
  } catch (const std::exception& e) {
    return {0, 0, fmt::format("iperf3 client (status {}): {}: {}", c.status, e.what(), c.output.substr(0, 500))};
  }
  if (c.status != 0) r.error = fmt::format("iperf3 client exited {}", c.status);
  return r;
}

}  // namespace vnet::ports::testing
