#include "offload/segmenter.h"

#include <algorithm>
#include <cstring>

#include "offload/internet_checksum.h"

namespace vnet::offload {
namespace {

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpCwr = 0x80;
constexpr uint16_t kIpMf = 0x2000;

}  // namespace

Verdict Segmenter::start(const virtio::NetHdr& hdr, const FrameView& frame) {
  frame_ = frame;
  reader_ = FrameReader(frame);
  emitted_ = count_ = max_seg_ = 0;
  ufo_data_sum_ = 0;
  layout_ = FrameLayout{};
  const uint32_t n = copy_out(frame, 0, head_, kMaxHeaderBytes);
  const Validation v = validate_copied(hdr, head_, n, frame.len);
  error_ = v.verdict;
  if (error_ != Verdict::ok) return error_;
  if (v.layout.gso == GsoKind::none) return error_ = Verdict::not_gso;
  layout_ = v.layout;
  const uint32_t l3 = layout_.l3_offset;
  ip_id_ = layout_.l3 == L3::ipv4 ? load_be16(head_ + l3 + 4) : 0;
  if (layout_.gso == GsoKind::ufo) {
    payload_ = frame.len - layout_.l4_offset;  // the whole IP payload: UDP header + data
    mss_ = hdr.gso_size & ~7u;
    count_ = (payload_ + mss_ - 1) / mss_;
    max_seg_ = layout_.l4_offset + mss_;
  } else {
    payload_ = frame.len - layout_.headers_len;
    mss_ = hdr.gso_size;
    count_ = payload_ == 0 ? 1 : (payload_ + mss_ - 1) / mss_;
    max_seg_ = layout_.headers_len + mss_;
    seq_ = layout_.l4_proto == 6 ? load_be32(head_ + layout_.l4_offset + 4) : 0;
  }
  return Verdict::ok;
}

uint32_t Segmenter::next(uint8_t* out, uint32_t cap) {
  if (done()) return 0;
  if (cap < max_seg_) {
    error_ = Verdict::buffer_too_small;
    return 0;
  }
  return layout_.gso == GsoKind::ufo ? next_ufo(out) : next_tcp_udp(out);
}

void Segmenter::read_payload(uint32_t pos, uint8_t* dst, uint32_t n) {
  reader_.seek(pos);
  const uint32_t got = reader_.read(dst, n);
  // Spans shorter than the frame claimed (a caller bug): send zeros rather than stale bytes.
  if (got < n) std::memset(dst + got, 0, n - got);
}

uint16_t Segmenter::pseudo_sum(const uint8_t* f, uint32_t l4_len) const {
  const uint32_t l3 = layout_.l3_offset;
  uint16_t s;
  if (layout_.l3 == L3::ipv4) {
    s = ones_sum(f + l3 + 12, 8);  // source and destination addresses
  } else {
    s = ones_sum(f + l3 + 8, 32);
    s = ones_add(s, static_cast<uint16_t>(l4_len >> 16));
  }
  s = ones_add(s, layout_.l4_proto);
  return ones_add(s, static_cast<uint16_t>(l4_len));
}

void Segmenter::finish_ipv4(uint8_t* out, uint32_t ip_total, uint16_t id, uint16_t frag) const {
  uint8_t* ip = out + layout_.l3_offset;
  const uint32_t ihl = layout_.l4_offset - layout_.l3_offset;
  store_be16(ip + 2, static_cast<uint16_t>(ip_total));
  store_be16(ip + 4, id);
  store_be16(ip + 6, frag);
  store_be16(ip + 10, 0);
  store_be16(ip + 10, static_cast<uint16_t>(~ones_sum(ip, ihl)));
}

uint32_t Segmenter::next_tcp_udp(uint8_t* out) {
  const uint32_t i = emitted_++;
  const bool last = emitted_ == count_;
  const uint32_t off = i * mss_;
  const uint32_t plen = std::min(mss_, payload_ - off);
  const uint32_t hl = layout_.headers_len;
  const uint32_t l3 = layout_.l3_offset;
  const uint32_t l4 = layout_.l4_offset;
  std::memcpy(out, head_, hl);
  read_payload(hl + off, out + hl, plen);
  const uint32_t l4_len = hl - l4 + plen;
  if (layout_.l3 == L3::ipv4) {
    finish_ipv4(out, l4 - l3 + l4_len, static_cast<uint16_t>(ip_id_ + i), load_be16(head_ + l3 + 6));
  } else {
    store_be16(out + l3 + 4, static_cast<uint16_t>(l4_len));
  }
  uint8_t* th = out + l4;
  uint32_t check_at;
  if (layout_.l4_proto == 6) {
    store_be32(th + 4, seq_ + off);
    if (!last) th[13] &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
    if (i > 0) th[13] &= static_cast<uint8_t>(~kTcpCwr);
    check_at = 16;
  } else {
    store_be16(th + 4, static_cast<uint16_t>(l4_len));
    check_at = 6;
  }
  store_be16(th + check_at, 0);
  uint16_t c = static_cast<uint16_t>(~ones_add(pseudo_sum(out, l4_len), ones_sum(th, l4_len)));
  if (c == 0 && layout_.l4_proto == 17) c = 0xffff;  // 0 means "no checksum" in UDP
  store_be16(th + check_at, c);
  return hl + plen;
}

uint32_t Segmenter::next_ufo(uint8_t* out) {
  // Last fragment first (see the header comment); k is the fragment's index in the datagram.
  const uint32_t k = count_ - 1 - emitted_++;
  const uint32_t foff = k * mss_;
  const uint32_t flen = std::min(mss_, payload_ - foff);
  const uint32_t l4 = layout_.l4_offset;
  std::memcpy(out, head_, l4);
  uint8_t* data = out + l4;
  // Fragments start at multiples of 8 into the UDP datagram, so their sums add without swapping.
  if (k > 0) {
    read_payload(l4 + foff, data, flen);
    ufo_data_sum_ = ones_add(ufo_data_sum_, ones_sum(data, flen));
  } else {
    std::memcpy(data, head_ + l4, 8);
    read_payload(l4 + 8, data + 8, flen - 8);
    ufo_data_sum_ = ones_add(ufo_data_sum_, ones_sum(data + 8, flen - 8));
    store_be16(data + 4, static_cast<uint16_t>(payload_));
    store_be16(data + 6, 0);
    uint16_t c = static_cast<uint16_t>(~ones_add(ones_add(pseudo_sum(out, payload_), ones_sum(data, 8)), ufo_data_sum_));
    if (c == 0) c = 0xffff;
    store_be16(data + 6, c);
  }
  const uint16_t frag = static_cast<uint16_t>((foff / 8) | (k + 1 < count_ ? kIpMf : 0));
  finish_ipv4(out, l4 - layout_.l3_offset + flen, ip_id_, frag);
  return l4 + flen;
}

}  // namespace vnet::offload
