// Feature bits (VIRTIO 1.2 sections 5.1.3 and 6) as typed constants.
#pragma once

#include <cstdint>

namespace vnet::virtio {

using Features = uint64_t;

constexpr Features bit(unsigned n) { return Features{1} << n; }

// Device-independent (section 6).
constexpr unsigned kFRingIndirectDesc = 28;
constexpr unsigned kFRingEventIdx = 29;
constexpr unsigned kFVersion1 = 32;
constexpr unsigned kFAccessPlatform = 33;
constexpr unsigned kFRingPacked = 34;
constexpr unsigned kFInOrder = 35;

// Network device (section 5.1.3).
constexpr unsigned kNetFCsum = 0;
constexpr unsigned kNetFGuestCsum = 1;
constexpr unsigned kNetFCtrlGuestOffloads = 2;
constexpr unsigned kNetFMtu = 3;
constexpr unsigned kNetFMac = 5;
constexpr unsigned kNetFGuestTso4 = 7;
constexpr unsigned kNetFGuestTso6 = 8;
constexpr unsigned kNetFGuestEcn = 9;
constexpr unsigned kNetFGuestUfo = 10;
constexpr unsigned kNetFHostTso4 = 11;
constexpr unsigned kNetFHostTso6 = 12;
constexpr unsigned kNetFHostEcn = 13;
constexpr unsigned kNetFHostUfo = 14;
constexpr unsigned kNetFMrgRxbuf = 15;
constexpr unsigned kNetFStatus = 16;
constexpr unsigned kNetFCtrlVq = 17;
constexpr unsigned kNetFCtrlRx = 18;
constexpr unsigned kNetFCtrlVlan = 19;
constexpr unsigned kNetFGuestAnnounce = 21;
constexpr unsigned kNetFMq = 22;
constexpr unsigned kNetFCtrlMacAddr = 23;
constexpr unsigned kNetFGuestUso4 = 54;
constexpr unsigned kNetFGuestUso6 = 55;
constexpr unsigned kNetFHostUso = 56;

// vhost-user specific bits living in the feature word.
constexpr unsigned kFLogAll = 26;               // VHOST_F_LOG_ALL
constexpr unsigned kFProtocolFeatures = 30;     // VHOST_USER_F_PROTOCOL_FEATURES

constexpr bool has(Features f, unsigned b) { return (f & bit(b)) != 0; }

}  // namespace vnet::virtio
