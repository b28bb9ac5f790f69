#include "apps/vnet_perf/options.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <map>

namespace vnet::perf {

const char* to_string(Mode m) {
  switch (m) {
    case Mode::tx: return "tx";
    case Mode::rx: return "rx";
    case Mode::fwd: return "fwd";
    case Mode::pingpong: return "pingpong";
    case Mode::bidir: return "bidir";
  }
  return "?";
}

std::optional<Options> parse_options(int argc, char** argv, int* exit_code) {
  Options o;
  CLI::App app{"vnet-perf: traffic generator / sink over the userspace virtio-net driver (vhost-user front-end)"};
  std::string mode = "tx", src, dst;
  auto* c = app.add_option("--connect", o.connect_path, "connect to a vhost-user back-end socket");
  auto* l = app.add_option("--listen", o.listen_path, "listen on a socket and accept one back-end");
  c->excludes(l);
  l->excludes(c);
  app.add_option("--mode", mode, "tx | rx | fwd | pingpong | bidir")->check(CLI::IsMember({"tx", "rx", "fwd", "pingpong", "bidir"}));
  app.add_option("--size", o.size, "frame size in bytes, FCS excluded (60..9216)")->check(CLI::Range(kMinFrame, kMaxFrame));
  app.add_option("--rate", o.rate, "frames per second over all queues (0: as fast as possible)");
  app.add_option("--duration", o.duration, "seconds to run")->check(CLI::Range(0.1, 86400.0));
  app.add_option("--count", o.count, "tx/bidir/pingpong: frames to send; rx/fwd: stop after receiving this many (rx/bidir: frames the peer sends, so ones missing at the end count as lost)");
  app.add_option("--idle-timeout", o.idle_timeout, "rx/fwd: stop after this many seconds without a frame")->check(CLI::Range(0.0, 3600.0));
  app.add_option("--ping-timeout", o.ping_timeout, "pingpong: seconds after which an unanswered ping counts as lost (default 0.2)")
      ->check(CLI::Range(0.001, 3600.0));
  app.add_option("--queues", o.queues, "queue pairs (one thread each)")->check(CLI::Range(1, 128));
  app.add_option("--flows", o.flows, "flows (source MAC/IP/port) to rotate over")->check(CLI::Range(1, 65536));
  app.add_option("--src-mac", src, "source MAC of flow 0");
  app.add_option("--dst-mac", dst, "destination MAC");
  app.add_flag("--json", o.json, "print the final result as JSON instead of the RESULT line");
  app.add_flag("--interrupt", o.interrupt, "sleep on the call eventfds instead of busy polling");
  app.add_option("--burst", o.burst, "frames per burst / poll budget")->check(CLI::Range(1, 1024));
  app.add_option("--queue-size", o.queue_size, "virtqueue size (power of two)")->check(CLI::Range(2, 32768));
  app.add_flag("--no-mrg-rxbuf", o.no_mrg, "do not negotiate VIRTIO_NET_F_MRG_RXBUF");
  app.add_flag("--no-event-idx", o.no_event_idx, "do not negotiate VIRTIO_RING_F_EVENT_IDX");
  app.add_flag("--no-indirect", o.no_indirect, "do not negotiate VIRTIO_RING_F_INDIRECT_DESC");
  app.add_option("--mtu", o.mtu, "MTU (buffer sizing, NET_SET_MTU)")->check(CLI::Range(68, 9216));
  app.add_option("--timeout", o.timeout, "connect/accept/reply timeout in seconds")->check(CLI::Range(0.01, 3600.0));
  app.add_flag("--quiet", o.quiet, "no progress lines");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    *exit_code = app.exit(e);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    *exit_code = 2;
    return std::nullopt;
  }
  auto usage = [&](const std::string& msg) {
    std::cerr << "vnet-perf: " << msg << "\n" << "Run with --help for more information.\n";
    *exit_code = 2;
    return std::nullopt;
  };
  if (o.connect_path.empty() && o.listen_path.empty()) return usage("one of --connect PATH or --listen PATH is required");
  static const std::map<std::string, Mode> modes{{"tx", Mode::tx}, {"rx", Mode::rx}, {"fwd", Mode::fwd}, {"pingpong", Mode::pingpong}, {"bidir", Mode::bidir}};
  o.mode = modes.at(mode);
  if (!src.empty()) {
    auto m = parse_mac(src);
    if (!m) return usage("bad --src-mac " + src);
    o.src_mac = *m;
  }
  if (!dst.empty()) {
    auto m = parse_mac(dst);
    if (!m) return usage("bad --dst-mac " + dst);
    o.dst_mac = *m;
  }
  if ((o.queue_size & (o.queue_size - 1)) != 0) return usage("--queue-size must be a power of two");
  if (o.size > static_cast<uint32_t>(o.mtu) + kEthLen + 4u) return usage("--size larger than --mtu allows (raise --mtu)");
  return o;
}

driver::DriverConfig driver_config(const Options& o) {
  driver::DriverConfig c;
  c.queue_pairs = o.queues;
  c.queue_size = o.queue_size;
  c.mrg_rxbuf = !o.no_mrg;
  c.event_idx = !o.no_event_idx;
  c.indirect_desc = !o.no_indirect;
  c.mtu = o.mtu;
  c.timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout * 1000));
  return c;
}

}  // namespace vnet::perf
