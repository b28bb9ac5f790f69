#include "offload/verdict.h"

namespace vnet::offload {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::unknown_flags: return "unknown_flags";
    case Verdict::csum_start_past_end: return "csum_start_past_end";
    case Verdict::csum_offset_past_end: return "csum_offset_past_end";
    case Verdict::unknown_gso_type: return "unknown_gso_type";
    case Verdict::ecn_without_gso: return "ecn_without_gso";
    case Verdict::gso_size_zero: return "gso_size_zero";
    case Verdict::gso_without_needs_csum: return "gso_without_needs_csum";
    case Verdict::hdr_len_past_end: return "hdr_len_past_end";
    case Verdict::hdr_len_too_small: return "hdr_len_too_small";
    case Verdict::frame_too_short: return "frame_too_short";
    case Verdict::not_ip: return "not_ip";
    case Verdict::unsupported_l2: return "unsupported_l2";
    case Verdict::ip_version_mismatch: return "ip_version_mismatch";
    case Verdict::bad_ip_header: return "bad_ip_header";
    case Verdict::ip_fragment: return "ip_fragment";
    case Verdict::ipv6_extension_headers: return "ipv6_extension_headers";
    case Verdict::l4_protocol_mismatch: return "l4_protocol_mismatch";
    case Verdict::bad_l4_header: return "bad_l4_header";
    case Verdict::csum_start_not_l4: return "csum_start_not_l4";
    case Verdict::csum_offset_not_l4_check: return "csum_offset_not_l4_check";
    case Verdict::segment_too_large: return "segment_too_large";
    case Verdict::datagram_too_large: return "datagram_too_large";
    case Verdict::ufo_ipv6_unsupported: return "ufo_ipv6_unsupported";
    case Verdict::ufo_ipv4_options: return "ufo_ipv4_options";
    case Verdict::ufo_gso_size_too_small: return "ufo_gso_size_too_small";
    case Verdict::not_gso: return "not_gso";
    case Verdict::buffer_too_small: return "buffer_too_small";
    case Verdict::count: break;
  }
  return "unknown";
}

}  // namespace vnet::offload
