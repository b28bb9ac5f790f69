// TAP <-> TAP forwarding through two ports::TapPort against the kernel's own path, same run.
//
//   ours:    ns A --tap--> [TapPort A -> TapWire thread -> TapPort B] --tap--> ns B
//   kernel:  ns A --veth--> Linux bridge (in its own netns) --veth--> ns B
//
// iperf3 (TCP, one flow, then 4 flows over multiqueue taps) from A to B; reports Gbit/s and
// the ratio ours / kernel. The kernel path is measured twice: with its default offloads
// (TSO/GSO/GRO, 64 KiB segments end to end), the like-for-like peer of our taps, which set
// TUNSETOFFLOAD and carry GSO frames through; and with them off, for reference.
// Needs root, /dev/net/tun, ip netns, iperf3, ethtool. Usage: tap_bench [seconds per run]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "ports/tap_port.h"
#include "tap_netns.h"
#include "tap_test_stream.h"
#include "tap_test_switch.h"

namespace {

using vnet::ports::TapConfig;
using vnet::ports::TapPort;
using vnet::ports::testing::iperf3;
using vnet::ports::testing::Netns;
using vnet::ports::testing::TapWire;

double ours(int seconds, uint16_t queues, int flows) {
  Netns a(fmt::format("ba{}", queues)), b(fmt::format("bb{}", queues));
  TapConfig c;
  c.queues = queues;
  c.name = "vnta";
  auto pa = a.in([&] { return TapPort::open(c); });
  c.name = "vntb";
  auto pb = b.in([&] { return TapPort::open(c); });
  if (!pa || !pb) {
    std::fprintf(stderr, "tap open failed: %s\n", (!pa ? pa.error() : pb.error()).message().c_str());
    std::exit(1);
  }
  a.exec("ip addr add 10.78.0.1/24 dev vnta");
  b.exec("ip addr add 10.78.0.2/24 dev vntb");
  TapWire wire(**pa, **pb);
  auto r = iperf3(b, "10.78.0.2", a, 5201, seconds, fmt::format("-P {}", flows));
  wire.stop();
  if (!r.error.empty()) {
    std::fprintf(stderr, "iperf3 through taps: %s\n", r.error.c_str());
    std::exit(1);
  }
  auto sa = (*pa)->total_stats(), sb = (*pb)->total_stats();
  std::printf("  ours   q=%u flows=%d: %6.2f Gbit/s  (tap a rx %lu pkts, tap b tx %lu pkts, drops %lu)\n", queues,
              flows, r.bits_per_second / 1e9, static_cast<unsigned long>(sa.rx_packets),
              static_cast<unsigned long>(sb.tx_packets),
              static_cast<unsigned long>(sa.tx_drops_total() + sb.tx_drops_total()));
  return r.bits_per_second;
}

double kernel(int seconds, bool offloads, int flows) {
  Netns a("ka"), b("kb"), br("kbr");
  auto must = [](const vnet::ports::testing::CmdResult& r, const char* what) {
    if (r.status != 0) {
      std::fprintf(stderr, "%s: %s\n", what, r.output.c_str());
      std::exit(1);
    }
  };
  must(br.exec(fmt::format("ip link add br0 type bridge && ip link set br0 up && "
                           "ip link add vntka type veth peer name pa && ip link add vntkb type veth peer name pb && "
                           "ip link set pa master br0 && ip link set pb master br0 && ip link set pa up && ip link set pb up && "
                           "ip link set vntka netns {} && ip link set vntkb netns {}", a.name(), b.name())),
       "bridge setup");
  must(a.exec("ip addr add 10.78.0.1/24 dev vntka && ip link set vntka up"), "ns a");
  must(b.exec("ip addr add 10.78.0.2/24 dev vntkb && ip link set vntkb up"), "ns b");
  if (!offloads) {
    const char* off = "tso off gso off gro off tx off rx off sg off";
    must(a.exec(fmt::format("ethtool -K vntka {} >/dev/null 2>&1; true", off)), "ethtool a");
    must(b.exec(fmt::format("ethtool -K vntkb {} >/dev/null 2>&1; true", off)), "ethtool b");
    must(br.exec(fmt::format("ethtool -K pa {0} >/dev/null 2>&1; ethtool -K pb {0} >/dev/null 2>&1; true", off)),
         "ethtool br");
  }
  auto r = iperf3(b, "10.78.0.2", a, 5201, seconds, fmt::format("-P {}", flows));
  if (!r.error.empty()) {
    std::fprintf(stderr, "iperf3 through the bridge: %s\n", r.error.c_str());
    std::exit(1);
  }
  std::printf("  kernel bridge, offloads %-3s flows=%d: %6.2f Gbit/s\n", offloads ? "on" : "off", flows,
              r.bits_per_second / 1e9);
  return r.bits_per_second;
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 5;
  if (auto problem = vnet::ports::testing::tap_requirements_problem(); !problem.empty()) {
    std::fprintf(stderr, "tap_bench cannot run: %s\n", problem.c_str());
    return 1;
  }
  vnet::ports::testing::cleanup_stale_netns();
  std::printf("tap_bench: iperf3 TCP ns A -> ns B, %d s per run, %ld CPUs\n", seconds, sysconf(_SC_NPROCESSORS_ONLN));
  for (int flows : {1, 4}) {
    const uint16_t queues = flows == 1 ? 1 : 4;
    double o = ours(seconds, queues, flows);
    double k_off = kernel(seconds, false, flows);
    double k_on = kernel(seconds, true, flows);
    std::printf("  ratio ours/kernel (flows=%d): %.2f vs offloads off, %.2f vs offloads on\n", flows, o / k_off,
                o / k_on);
  }
  return 0;
}
