// Which destinations can take a header unchanged, and what they get otherwise.
#include <gtest/gtest.h>

#include "offload/feature_needs.h"

namespace vnet::offload {
namespace {

using namespace virtio;

NetHdr hdr(uint8_t flags, uint8_t gso_type) {
  NetHdr h{};
  h.flags = flags;
  h.gso_type = gso_type;
  h.gso_size = gso_type ? 1448 : 0;
  h.csum_start = 34;
  h.csum_offset = 16;
  h.hdr_len = 54;
  h.num_buffers = 3;
  return h;
}

constexpr Features kAllGuest = bit(kNetFGuestCsum) | bit(kNetFGuestTso4) | bit(kNetFGuestTso6) | bit(kNetFGuestEcn) |
                               bit(kNetFGuestUfo) | bit(kNetFGuestUso4) | bit(kNetFGuestUso6);

TEST(FeatureNeeds, PlainFramesNeedNothing) {
  EXPECT_EQ(needs_software(hdr(0, 0), 0), SoftwareWork::none);
  EXPECT_EQ(needs_software(hdr(kNetHdrFDataValid, 0), 0), SoftwareWork::none);
  EXPECT_EQ(guest_features_needed(hdr(0, 0)), 0u);
  EXPECT_EQ(host_features_needed(hdr(kNetHdrFDataValid, 0)), 0u);
}

TEST(FeatureNeeds, ChecksumOnlyNeedsGuestCsum) {
  const NetHdr h = hdr(kNetHdrFNeedsCsum, 0);
  EXPECT_EQ(needs_software(h, 0), SoftwareWork::checksum);
  EXPECT_EQ(needs_software(h, kAllGuest & ~bit(kNetFGuestCsum)), SoftwareWork::checksum);
  EXPECT_EQ(needs_software(h, bit(kNetFGuestCsum)), SoftwareWork::none);
  EXPECT_EQ(host_features_needed(h), bit(kNetFCsum));
}

TEST(FeatureNeeds, GsoNeedsTheMatchingGuestBits) {
  const uint8_t f = kNetHdrFNeedsCsum;
  const Features csum = bit(kNetFGuestCsum);
  EXPECT_EQ(needs_software(hdr(f, kNetHdrGsoTcpv4), csum | bit(kNetFGuestTso4)), SoftwareWork::none);
  EXPECT_EQ(needs_software(hdr(f, kNetHdrGsoTcpv4), csum | bit(kNetFGuestTso6)), SoftwareWork::segment);
  EXPECT_EQ(needs_software(hdr(f, kNetHdrGsoTcpv4), bit(kNetFGuestTso4)), SoftwareWork::segment);  // no GUEST_CSUM
  EXPECT_EQ(needs_software(hdr(f, kNetHdrGsoTcpv6), csum | bit(kNetFGuestTso6)), SoftwareWork::none);
  EXPECT_EQ(needs_software(hdr(f, kNetHdrGsoTcpv4 | kNetHdrGsoEcn), csum | bit(kNetFGuestTso4)), SoftwareWork::segment);
  EXPECT_EQ(needs_software(hdr(f, kNetHdrGsoTcpv4 | kNetHdrGsoEcn), csum | bit(kNetFGuestTso4) | bit(kNetFGuestEcn)),
            SoftwareWork::none);
  EXPECT_EQ(needs_software(hdr(f, kNetHdrGsoUdp), csum | bit(kNetFGuestUfo)), SoftwareWork::none);
  EXPECT_EQ(needs_software(hdr(f, kNetHdrGsoUdp), csum | bit(kNetFGuestUso4)), SoftwareWork::segment);
  // USO: the IP version picks the bit; unknown asks for both.
  const NetHdr uso = hdr(f, kNetHdrGsoUdpL4);
  EXPECT_EQ(needs_software(uso, csum | bit(kNetFGuestUso4), L3::ipv4), SoftwareWork::none);
  EXPECT_EQ(needs_software(uso, csum | bit(kNetFGuestUso4), L3::ipv6), SoftwareWork::segment);
  EXPECT_EQ(needs_software(uso, csum | bit(kNetFGuestUso6), L3::ipv6), SoftwareWork::none);
  EXPECT_EQ(needs_software(uso, csum | bit(kNetFGuestUso4)), SoftwareWork::segment);
  EXPECT_EQ(needs_software(uso, csum | bit(kNetFGuestUso4) | bit(kNetFGuestUso6)), SoftwareWork::none);
  EXPECT_EQ(needs_software(uso, kAllGuest), SoftwareWork::none);
}

TEST(FeatureNeeds, SourceMustHaveNegotiatedWhatItUses) {
  const uint8_t f = kNetHdrFNeedsCsum;
  EXPECT_TRUE(source_may_send(hdr(0, 0), 0));
  EXPECT_FALSE(source_may_send(hdr(f, 0), 0));
  EXPECT_TRUE(source_may_send(hdr(f, 0), bit(kNetFCsum)));
  EXPECT_FALSE(source_may_send(hdr(f, kNetHdrGsoTcpv4), bit(kNetFCsum) | bit(kNetFHostTso6)));
  EXPECT_TRUE(source_may_send(hdr(f, kNetHdrGsoTcpv4), bit(kNetFCsum) | bit(kNetFHostTso4)));
  EXPECT_FALSE(source_may_send(hdr(f, kNetHdrGsoTcpv6 | kNetHdrGsoEcn), bit(kNetFCsum) | bit(kNetFHostTso6)));
  EXPECT_TRUE(source_may_send(hdr(f, kNetHdrGsoTcpv6 | kNetHdrGsoEcn), bit(kNetFCsum) | bit(kNetFHostTso6) | bit(kNetFHostEcn)));
  EXPECT_TRUE(source_may_send(hdr(f, kNetHdrGsoUdpL4), bit(kNetFCsum) | bit(kNetFHostUso)));
  EXPECT_FALSE(source_may_send(hdr(f, kNetHdrGsoUdp), bit(kNetFCsum) | bit(kNetFHostUso)));
  EXPECT_TRUE(source_may_send(hdr(f, kNetHdrGsoUdp), bit(kNetFCsum) | bit(kNetFHostUfo)));
}

TEST(FeatureNeeds, HeaderForDestination) {
  const NetHdr gso = hdr(kNetHdrFNeedsCsum, kNetHdrGsoTcpv4);
  NetHdr out = header_for_destination(gso, SoftwareWork::none, kAllGuest);
  EXPECT_EQ(out.flags, gso.flags);
  EXPECT_EQ(out.gso_type, gso.gso_type);
  EXPECT_EQ(out.gso_size, gso.gso_size);
  EXPECT_EQ(out.csum_start, gso.csum_start);
  EXPECT_EQ(out.csum_offset, gso.csum_offset);
  EXPECT_EQ(out.hdr_len, gso.hdr_len);
  EXPECT_EQ(out.num_buffers, 0);
  for (auto work : {SoftwareWork::checksum, SoftwareWork::segment}) {
    out = header_for_destination(gso, work, kAllGuest);
    EXPECT_EQ(out.flags, 0);
    EXPECT_EQ(out.gso_type, 0);
    EXPECT_EQ(out.gso_size, 0);
    EXPECT_EQ(out.csum_start, 0);
    EXPECT_EQ(out.hdr_len, 0);
  }
  const NetHdr valid = hdr(kNetHdrFDataValid, 0);
  EXPECT_EQ(header_for_destination(valid, SoftwareWork::none, bit(kNetFGuestCsum)).flags, kNetHdrFDataValid);
  EXPECT_EQ(header_for_destination(valid, SoftwareWork::none, 0).flags, 0);
  EXPECT_EQ(header_for_destination(hdr(kNetHdrFNeedsCsum | kNetHdrFDataValid, 0), SoftwareWork::none, kAllGuest).flags,
            kNetHdrFNeedsCsum);
}

TEST(FeatureNeeds, TunOffloadsRoundTrip) {
  EXPECT_EQ(guest_features_from_tun_offloads(0), 0u);
  EXPECT_EQ(guest_features_from_tun_offloads(0x7f), kAllGuest);
  EXPECT_EQ(tun_offloads_from_guest_features(kAllGuest), 0x7fu);
  EXPECT_EQ(guest_features_from_tun_offloads(kTunFCsum | kTunFTso4), bit(kNetFGuestCsum) | bit(kNetFGuestTso4));
  for (unsigned t = 0; t < 0x80; ++t) EXPECT_EQ(tun_offloads_from_guest_features(guest_features_from_tun_offloads(t)), t);
}

}  // namespace
}  // namespace vnet::offload
