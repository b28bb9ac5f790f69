#include "offload/feature_needs.h"

namespace vnet::offload {

using namespace virtio;

Features guest_features_needed(const NetHdr& hdr, L3 l3) {
  Features f = 0;
  if (hdr.flags & kNetHdrFNeedsCsum) f |= bit(kNetFGuestCsum);
  switch (gso_kind(hdr.gso_type)) {
    case GsoKind::none: break;
    case GsoKind::tcp4: f |= bit(kNetFGuestTso4); break;
    case GsoKind::tcp6: f |= bit(kNetFGuestTso6); break;
    case GsoKind::ufo: f |= bit(kNetFGuestUfo); break;
    case GsoKind::udp_l4:
      if (l3 != L3::ipv6) f |= bit(kNetFGuestUso4);
      if (l3 != L3::ipv4) f |= bit(kNetFGuestUso6);
      break;
  }
  if (gso_kind(hdr.gso_type) != GsoKind::none && (hdr.gso_type & kNetHdrGsoEcn)) f |= bit(kNetFGuestEcn);
  return f;
}

Features host_features_needed(const NetHdr& hdr) {
  Features f = 0;
  if (hdr.flags & kNetHdrFNeedsCsum) f |= bit(kNetFCsum);
  switch (gso_kind(hdr.gso_type)) {
    case GsoKind::none: break;
    case GsoKind::tcp4: f |= bit(kNetFHostTso4); break;
    case GsoKind::tcp6: f |= bit(kNetFHostTso6); break;
    case GsoKind::ufo: f |= bit(kNetFHostUfo); break;
    case GsoKind::udp_l4: f |= bit(kNetFHostUso); break;
  }
  if (gso_kind(hdr.gso_type) != GsoKind::none && (hdr.gso_type & kNetHdrGsoEcn)) f |= bit(kNetFHostEcn);
  return f;
}

SoftwareWork needs_software(const NetHdr& hdr, Features dest_features, L3 l3) {
  if ((guest_features_needed(hdr, l3) & ~dest_features) == 0) return SoftwareWork::none;
  if (gso_kind(hdr.gso_type) != GsoKind::none) return SoftwareWork::segment;
  return SoftwareWork::checksum;
}

NetHdr header_for_destination(const NetHdr& hdr, SoftwareWork work, Features dest_features) {
  NetHdr out{};
  if (work != SoftwareWork::none) return out;
  out = hdr;
  out.num_buffers = 0;
  if ((hdr.flags & kNetHdrFNeedsCsum) || !has(dest_features, kNetFGuestCsum)) out.flags &= ~kNetHdrFDataValid;
  return out;
}

Features guest_features_from_tun_offloads(unsigned t) {
  Features f = 0;
  if (t & kTunFCsum) f |= bit(kNetFGuestCsum);
  if (t & kTunFTso4) f |= bit(kNetFGuestTso4);
  if (t & kTunFTso6) f |= bit(kNetFGuestTso6);
  if (t & kTunFTsoEcn) f |= bit(kNetFGuestEcn);
  if (t & kTunFUfo) f |= bit(kNetFGuestUfo);
  if (t & kTunFUso4) f |= bit(kNetFGuestUso4);
  if (t & kTunFUso6) f |= bit(kNetFGuestUso6);
  return f;
}

unsigned tun_offloads_from_guest_features(Features f) {
  unsigned t = 0;
  if (has(f, kNetFGuestCsum)) t |= kTunFCsum;
  if (has(f, kNetFGuestTso4)) t |= kTunFTso4;
  if (has(f, kNetFGuestTso6)) t |= kTunFTso6;
  if (has(f, kNetFGuestEcn)) t |= kTunFTsoEcn;
  if (has(f, kNetFGuestUfo)) t |= kTunFUfo;
  if (has(f, kNetFGuestUso4)) t |= kTunFUso4;
  if (has(f, kNetFGuestUso6)) t |= kTunFUso6;
  return t;
}

}  // namespace vnet::offload
