// The frames vnet-perf sends: Ethernet / IPv4 / UDP with a small perf header (magic, stream +
// sequence number, send timestamp) and a payload pattern derived from the sequence number, so
// that a receiver can tell lost, reordered and corrupt frames apart. --flows N rotates source
// MAC, source IP and UDP source port over N flows so a switch sees N flows.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vnet::perf {

using Mac = std::array<uint8_t, 6>;
std::optional<Mac> parse_mac(const std::string& s);
std::string format_mac(const Mac& m);

constexpr uint32_t kEthLen = 14, kIpLen = 20, kUdpLen = 8;
constexpr uint32_t kL2L4Len = kEthLen + kIpLen + kUdpLen;  // 42
constexpr uint16_t kPerfMagic = 0x5650;                    // "VP"
constexpr uint32_t kPerfHdrLen = 2 + 8 + 8;                // magic, stream<<48|seq, timestamp
constexpr uint32_t kMinFrame = kL2L4Len + kPerfHdrLen;      // 60: the Ethernet minimum
constexpr uint32_t kMaxFrame = 9216;
constexpr uint64_t kSeqMask = (uint64_t{1} << 48) - 1;

struct PerfHeader {
  uint16_t stream;   // sender's queue index
  uint64_t seq;      // 48 bits per stream
  uint64_t tx_ns;    // CLOCK_MONOTONIC at send
};

class FrameBuilder {
 public:
  FrameBuilder(const Mac& src, const Mac& dst, uint32_t flows, uint32_t frame_len);
  uint32_t frame_len() const { return len_; }
  // Writes a whole frame of frame_len() bytes into dst.
  void build(uint8_t* dst, uint16_t stream, uint64_t seq, uint64_t tx_ns) const;

 private:
  uint32_t len_;
  std::vector<std::array<uint8_t, kL2L4Len>> templates_;  // one per flow, checksums done
};

enum class CheckResult { ok, foreign, corrupt };

// Checks a received frame (contiguous copy or first segment + rest). On ok/corrupt with a valid
// perf header, hdr is filled.
CheckResult check_frame(std::span<const uint8_t> frame, PerfHeader& hdr);
// Reads only the perf header (pingpong / fwd need no payload check). False if not ours.
bool read_perf_header(std::span<const uint8_t> frame, PerfHeader& hdr);
// Swaps source and destination MAC in place (testpmd macswap).
void swap_macs(uint8_t* frame);

}  // namespace vnet::perf
