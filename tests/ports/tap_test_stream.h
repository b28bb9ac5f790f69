// Traffic helpers for the tap tests: a TCP stream of a seeded pseudo-random byte sequence
// between sockets in two namespaces (the receiver checks every byte), and iperf3 runs.
#pragma once

#include <cstdint>
#include <string>

#include "tap_netns.h"

namespace vnet::ports::testing {

struct StreamResult {
  uint64_t received = 0;
  bool intact = false;  // every byte matched and the count is right
  std::string error;
};

// Sends `bytes` from a socket in `from` to a listener on to_ip:port in `to`; hard timeout
// `timeout_s` on every blocking step.
StreamResult checked_stream(const Netns& from, const Netns& to, const std::string& to_ip, uint16_t port,
                            uint64_t bytes, int timeout_s = 20);

struct IperfResult {
  double bits_per_second = 0;  // receiver side
  uint64_t bytes = 0;
  std::string error;  // empty on success
};

// iperf3 server in `server` (bound to server_ip:port, one test), client in `client`.
// extra: client options, e.g. "-R", "-P 4".
IperfResult iperf3(const Netns& server, const std::string& server_ip, const Netns& client, uint16_t port,
                   int seconds, const std::string& extra = "");

}  // namespace vnet::ports::testing
