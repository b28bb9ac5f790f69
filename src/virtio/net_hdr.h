// struct virtio_net_hdr (VIRTIO 1.2 section 5.1.6). 12 bytes with VIRTIO_F_VERSION_1 or
// MRG_RXBUF (num_buffers present), 10 bytes for a legacy device without MRG_RXBUF.
#pragma once

#include <cstdint>

#include "virtio/features.h"

namespace vnet::virtio {

constexpr uint8_t kNetHdrFNeedsCsum = 1;
constexpr uint8_t kNetHdrFDataValid = 2;
constexpr uint8_t kNetHdrFRscInfo = 4;

constexpr uint8_t kNetHdrGsoNone = 0;
constexpr uint8_t kNetHdrGsoTcpv4 = 1;
constexpr uint8_t kNetHdrGsoUdp = 3;
constexpr uint8_t kNetHdrGsoTcpv6 = 4;
constexpr uint8_t kNetHdrGsoUdpL4 = 5;
constexpr uint8_t kNetHdrGsoEcn = 0x80;

struct NetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
  uint16_t num_buffers;  // only on the wire when net_hdr_size() == 12
};
static_assert(sizeof(NetHdr) == 12);

constexpr uint32_t net_hdr_size(Features negotiated) {
  return (has(negotiated, kFVersion1) || has(negotiated, kNetFMrgRxbuf)) ? 12 : 10;
}

}  // namespace vnet::virtio
