// vnet-perf command line: parsed with CLI11; any bad argument is a usage error (exit 2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "apps/vnet_perf/frame_format.h"
#include "driver/virtio_net_driver.h"

namespace vnet::perf {

enum class Mode { tx, rx, fwd, pingpong, bidir };
const char* to_string(Mode m);

struct Options {
  std::string connect_path, listen_path;
  Mode mode = Mode::tx;
  uint32_t size = 64;          // frame bytes without FCS
  uint64_t rate = 0;           // frames per second over all queues, 0 = as fast as possible
  double duration = 10;        // seconds
  uint64_t count = 0;          // tx: frames to send (0 = unlimited); rx: stop after this many
  double idle_timeout = 0;     // rx/fwd: stop after this long without a frame (once one came)
  double ping_timeout = 0.2;   // pingpong: a ping unanswered this long (seconds) counts as lost
  uint16_t queues = 1;
  uint32_t flows = 1;
  Mac src_mac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  Mac dst_mac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  bool json = false;
  bool interrupt = false;      // block on call eventfds instead of busy polling
  uint32_t burst = 32;
  uint16_t queue_size = 256;
  bool no_mrg = false, no_event_idx = false, no_indirect = false;
  uint16_t mtu = 1500;
  double timeout = 5;          // connect / accept / reply timeout, seconds
  bool quiet = false;          // no progress lines
};

// Parses argv. On --help returns exit code 0 in *exit_code; on a usage error prints it and
// sets 2; otherwise returns options.
std::optional<Options> parse_options(int argc, char** argv, int* exit_code);

driver::DriverConfig driver_config(const Options& o);

}  // namespace vnet::perf
