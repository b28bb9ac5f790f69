// Offload costs on a 64 KiB GSO frame (the largest a guest sends), against plain memcpy of the
// same bytes measured in the same run (segmentation must copy every byte at least once):
//  - Segment/*: Segmenter start + every segment into one reused buffer (TCPv4 MSS 1448, TCPv6
//    MSS 1440, USO, UFO), frame in 4 KiB spans like guest pages;
//  - ChecksumPatch: compute_checksum_patch over the frame (NEEDS_CSUM completion);
//  - Validate: validate() of the GSO header;
//  - Memcpy64k: copying the frame's bytes out of its spans into a flat buffer.
// Figures: bytes_per_second and ns per iteration (= per 64 KiB frame).
#include <benchmark/benchmark.h>

#include <cstring>

#include "offload/checksum.h"
#include "offload/segmenter.h"
#include "offload/validate.h"
#include "offload_test_frames.h"

namespace vnet::offload {
namespace {

using namespace testing;

struct Setup {
  FrameSpec spec;
  Built built;
  virtio::NetHdr hdr;
  ScatteredFrame frame;
  Setup(FrameSpec s, uint8_t gso_type, uint16_t mss)
      : spec(s), built(build_frame(s)), hdr(gso_header(built, s, gso_type, mss)), frame(built.bytes, {4096}) {}
};

void run_segment(benchmark::State& state, FrameSpec spec, uint8_t gso_type, uint16_t mss) {
  Setup s(spec, gso_type, mss);
  Segmenter seg;
  std::vector<uint8_t> buf(kMaxHeaderBytes + 65535);
  uint64_t segments = 0;
  for (auto _ : state) {
    if (seg.start(s.hdr, s.frame.view()) != Verdict::ok) {
      state.SkipWithError("start failed");
      return;
    }
    while (!seg.done()) {
      benchmark::DoNotOptimize(seg.next(buf.data(), static_cast<uint32_t>(buf.size())));
      ++segments;
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * s.built.bytes.size());
  state.counters["segments/frame"] = static_cast<double>(segments) / static_cast<double>(state.iterations());
}

constexpr uint32_t kPayload4 = 65535 - 40;  // IPv4 TCP: 64 KiB IP datagram
void SegmentTcp4(benchmark::State& st) { run_segment(st, {.payload = kPayload4}, virtio::kNetHdrGsoTcpv4, 1448); }
void SegmentTcp6(benchmark::State& st) { run_segment(st, {.ipv6 = true, .payload = 65535 - 20}, virtio::kNetHdrGsoTcpv6, 1440); }
void SegmentUso4(benchmark::State& st) { run_segment(st, {.udp = true, .payload = 65535 - 28}, virtio::kNetHdrGsoUdpL4, 1472); }
void SegmentUfo4(benchmark::State& st) { run_segment(st, {.udp = true, .payload = 65535 - 28}, virtio::kNetHdrGsoUdp, 1480); }
BENCHMARK(SegmentTcp4);
BENCHMARK(SegmentTcp6);
BENCHMARK(SegmentUso4);
BENCHMARK(SegmentUfo4);

void ChecksumPatch64k(benchmark::State& state) {
  const FrameSpec spec{.payload = kPayload4};
  const Built b = build_frame(spec);
  const auto hdr = csum_header(b, spec);
  ScatteredFrame f(b.bytes, {4096});
  for (auto _ : state) benchmark::DoNotOptimize(compute_checksum_patch(hdr, f.view()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * b.bytes.size());
}
BENCHMARK(ChecksumPatch64k);

void Validate64k(benchmark::State& state) {
  Setup s({.payload = kPayload4}, virtio::kNetHdrGsoTcpv4, 1448);
  for (auto _ : state) benchmark::DoNotOptimize(validate(s.hdr, s.frame.view()));
}
BENCHMARK(Validate64k);

void Memcpy64k(benchmark::State& state) {
  const Built b = build_frame({.payload = kPayload4});
  ScatteredFrame f(b.bytes, {4096});
  std::vector<uint8_t> out(b.bytes.size());
  for (auto _ : state) {
    benchmark::DoNotOptimize(copy_out(f.view(), 0, out.data(), static_cast<uint32_t>(out.size())));
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * b.bytes.size());
}
BENCHMARK(Memcpy64k);

}  // namespace
}  // namespace vnet::offload

BENCHMARK_MAIN();
