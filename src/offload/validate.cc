#include "offload/validate.h"

#include "offload/internet_checksum.h"

namespace vnet::offload {
namespace {

constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthIpv6 = 0x86dd;
constexpr uint16_t kEthVlan = 0x8100;
constexpr uint16_t kEthQinQ = 0x88a8;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;

bool is_ipv6_extension(uint8_t nh) {
  switch (nh) {
    case 0: case 43: case 44: case 50: case 51: case 60: case 135: case 139: case 140: case 253: case 254:
      return true;
    default:
      return false;
  }
}

Verdict check_fields(const virtio::NetHdr& hdr, uint32_t len) {
  using namespace virtio;
  if (hdr.flags & ~(kNetHdrFNeedsCsum | kNetHdrFDataValid)) return Verdict::unknown_flags;
  if (hdr.flags & kNetHdrFNeedsCsum) {
    if (hdr.csum_start >= len) return Verdict::csum_start_past_end;
    if (uint32_t{hdr.csum_start} + hdr.csum_offset + 2 > len) return Verdict::csum_offset_past_end;
  }
  const uint8_t base = hdr.gso_type & ~kNetHdrGsoEcn;
  if (base != kNetHdrGsoNone && gso_kind(hdr.gso_type) == GsoKind::none) return Verdict::unknown_gso_type;
  if (base == kNetHdrGsoNone) return (hdr.gso_type & kNetHdrGsoEcn) ? Verdict::ecn_without_gso : Verdict::ok;
  if (hdr.gso_size == 0) return Verdict::gso_size_zero;
  if (!(hdr.flags & kNetHdrFNeedsCsum)) return Verdict::gso_without_needs_csum;
  if (hdr.hdr_len > len) return Verdict::hdr_len_past_end;
  return Verdict::ok;
}

// Parses L2/L3/L4 of a GSO frame from the copied head; fills `v.layout`.
Verdict parse_gso(const virtio::NetHdr& hdr, const uint8_t* h, uint32_t n, uint32_t len, FrameLayout& lay) {
  lay.gso = gso_kind(hdr.gso_type);
  // Everything below indexes h[] only after checking against n (n <= len).
  if (n < 14) return Verdict::frame_too_short;
  uint16_t et = load_be16(h + 12);
  uint32_t l3 = 14;
  if (et == kEthVlan) {
    if (n < 18) return Verdict::frame_too_short;
    et = load_be16(h + 16);
    l3 = 18;
    if (et == kEthVlan || et == kEthQinQ) return Verdict::unsupported_l2;
  } else if (et == kEthQinQ) {
    return Verdict::unsupported_l2;
  }
  uint32_t l4;
  uint8_t proto;
  if (et == kEthIpv4) {
    if (lay.gso == GsoKind::tcp6) return Verdict::ip_version_mismatch;
    if (n < l3 + 20) return Verdict::frame_too_short;
    if ((h[l3] >> 4) != 4) return Verdict::ip_version_mismatch;
    const uint32_t ihl = (h[l3] & 0x0f) * 4u;
    if (ihl < 20) return Verdict::bad_ip_header;
    if (n < l3 + ihl) return Verdict::frame_too_short;
    if (load_be16(h + l3 + 6) & 0x3fff) return Verdict::ip_fragment;  // MF or fragment offset
    proto = h[l3 + 9];
    l4 = l3 + ihl;
    lay.l3 = L3::ipv4;
  } else if (et == kEthIpv6) {
    if (lay.gso == GsoKind::tcp4) return Verdict::ip_version_mismatch;
    if (n < l3 + 40) return Verdict::frame_too_short;
    if ((h[l3] >> 4) != 6) return Verdict::ip_version_mismatch;
    proto = h[l3 + 6];
    if (proto != kProtoTcp && proto != kProtoUdp && is_ipv6_extension(proto)) return Verdict::ipv6_extension_headers;
    l4 = l3 + 40;
    lay.l3 = L3::ipv6;
  } else {
    return Verdict::not_ip;
  }
  const bool tcp = lay.gso == GsoKind::tcp4 || lay.gso == GsoKind::tcp6;
  if (proto != (tcp ? kProtoTcp : kProtoUdp)) return Verdict::l4_protocol_mismatch;
  uint32_t l4len;
  if (tcp) {
    if (n < l4 + 20) return Verdict::frame_too_short;
    l4len = (h[l4 + 12] >> 4) * 4u;
    if (l4len < 20) return Verdict::bad_l4_header;
    if (n < l4 + l4len) return Verdict::frame_too_short;
  } else {
    l4len = 8;
    if (n < l4 + l4len) return Verdict::frame_too_short;
  }
  if (hdr.csum_start != l4) return Verdict::csum_start_not_l4;
  if (hdr.csum_offset != (tcp ? 16 : 6)) return Verdict::csum_offset_not_l4_check;
  if (hdr.hdr_len != 0 && hdr.hdr_len < l4 + l4len) return Verdict::hdr_len_too_small;

  const uint32_t ip_hdr = lay.l3 == L3::ipv4 ? l4 - l3 : 0;  // IPv6 payload length excludes its header
  if (lay.gso == GsoKind::ufo) {
    if (lay.l3 == L3::ipv6) return Verdict::ufo_ipv6_unsupported;
    if (ip_hdr != 20) return Verdict::ufo_ipv4_options;
    if (hdr.gso_size < 8) return Verdict::ufo_gso_size_too_small;
    const uint32_t udp_len = len - l4;
    if (udp_len > 0xffff || ip_hdr + udp_len > 0xffff) return Verdict::datagram_too_large;
    if (ip_hdr + (hdr.gso_size & ~7u) > 0xffff) return Verdict::segment_too_large;
  } else if (ip_hdr + l4len + hdr.gso_size > 0xffff) {
    return Verdict::segment_too_large;
  }
  lay.l4_proto = proto;
  lay.l3_offset = static_cast<uint16_t>(l3);
  lay.l4_offset = static_cast<uint16_t>(l4);
  lay.headers_len = static_cast<uint16_t>(l4 + l4len);
  return Verdict::ok;
}

}  // namespace

GsoKind gso_kind(uint8_t gso_type) {
  switch (gso_type & ~virtio::kNetHdrGsoEcn) {
    case virtio::kNetHdrGsoTcpv4: return GsoKind::tcp4;
    case virtio::kNetHdrGsoTcpv6: return GsoKind::tcp6;
    case virtio::kNetHdrGsoUdpL4: return GsoKind::udp_l4;
    case virtio::kNetHdrGsoUdp: return GsoKind::ufo;
    default: return GsoKind::none;
  }
}

Validation validate_copied(const virtio::NetHdr& hdr, const uint8_t* head, uint32_t head_len, uint32_t frame_len) {
  Validation v;
  v.verdict = check_fields(hdr, frame_len);
  if (v.verdict != Verdict::ok || gso_kind(hdr.gso_type) == GsoKind::none) return v;
  v.verdict = parse_gso(hdr, head, head_len, frame_len, v.layout);
  if (v.verdict != Verdict::ok) v.layout = FrameLayout{};
  return v;
}

Validation validate(const virtio::NetHdr& hdr, const FrameView& frame) {
  uint8_t head[kMaxHeaderBytes];
  uint32_t n = 0;
  // Only GSO frames need their headers parsed; the rest is checked from the header alone.
  if (gso_kind(hdr.gso_type) != GsoKind::none) n = copy_out(frame, 0, head, kMaxHeaderBytes);
  return validate_copied(hdr, head, n, frame.len);
}

}  // namespace vnet::offload
