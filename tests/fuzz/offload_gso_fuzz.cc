// Fuzzes the offload library over (virtio_net_hdr, frame): validate, checksum completion (patch,
// splice and in place) and segmentation of whatever validates. Each span of the frame is its
// own exactly-sized heap block and every segment buffer is exactly max_segment_size() bytes,
// so ASan flags any read or write out of bounds. Invariants that must hold are trapped.
//
// Input: 10 bytes header (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset; little
// endian), 1 byte span-size seed, 1 byte lead offset, then the frame.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "offload/checksum.h"
#include "offload/segmenter.h"
#include "offload/validate.h"

using namespace vnet;
using namespace vnet::offload;

namespace {

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 12) return 0;
  virtio::NetHdr h{};
  h.flags = data[0];
  h.gso_type = data[1];
  h.hdr_len = le16(data + 2);
  h.gso_size = le16(data + 4);
  h.csum_start = le16(data + 6);
  h.csum_offset = le16(data + 8);
  const uint8_t seed = data[10];
  const uint32_t lead = data[11] % 8;
  data += 12;
  size -= 12;
  const uint32_t len = static_cast<uint32_t>(std::min<size_t>(size, 70000));

  // Scatter the frame: span sizes cycle through 1 + (seed-derived values), at least one span.
  std::vector<std::unique_ptr<uint8_t[]>> blocks;
  std::vector<HostSpan> spans;
  uint32_t pos = 0;
  uint32_t k = 0;
  do {
    const uint32_t want = seed == 0 ? 0xffffffffu : 1 + ((seed * (k + 7)) % 97) * (seed & 0x40 ? 31 : 1);
    const uint32_t n = std::min(want, len - pos);
    const uint32_t pre = k == 0 ? lead : 0;
    auto b = std::make_unique<uint8_t[]>(pre + n);
    if (n) std::memcpy(b.get() + pre, data + pos, n);
    spans.push_back(HostSpan{b.get(), pre + n});
    blocks.push_back(std::move(b));
    pos += n;
    ++k;
  } while (pos < len && spans.size() < 60000);
  FrameView view{spans.data(), static_cast<uint16_t>(spans.size()), lead, len};

  const Validation v = validate(h, view);

  if (auto patch = compute_checksum_patch(h, view)) {
    check(patch->offset + 2 <= len);
    std::vector<HostSpan> out(spans.size() + 3);
    uint8_t scratch[2];
    const size_t n = splice_patch(view, *patch, scratch, out.data(), out.size());
    check(n > 0);
    uint32_t total = 0;
    for (size_t i = 0; i < n; ++i) total += out[i].len;
    check(total == len);
    // In place over an exact-size flat copy gives the same bytes at the field.
    auto flat = std::make_unique<uint8_t[]>(len);
    std::memcpy(flat.get(), data, len);
    check(complete_checksum(h, flat.get(), len));
    check(flat[patch->offset] == patch->bytes[0] && flat[patch->offset + 1] == patch->bytes[1]);
  }

  Segmenter seg;
  const Verdict sv = seg.start(h, view);
  if (gso_kind(h.gso_type) != GsoKind::none || !v.ok()) check(sv == v.verdict);
  if (sv == Verdict::ok) {
    check(seg.max_segment_size() <= kMaxHeaderBytes + 65535u);
    auto buf = std::make_unique<uint8_t[]>(seg.max_segment_size());
    uint32_t produced = 0;
    while (!seg.done()) {
      const uint32_t n = seg.next(buf.get(), seg.max_segment_size());
      check(n > 0 && n <= seg.max_segment_size());
      check(++produced <= seg.segment_count());
    }
    check(produced == seg.segment_count());
  }
  return 0;
}
