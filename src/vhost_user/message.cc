#include "vhost_user/message.h"

#include <array>

namespace vnet::vhost_user {
namespace {

using R = Request;
using S = SizeRule;
using F = FdRule;

// One row per request the specification defines. `supported` is false for requests whose
// protocol feature we never offer: a front-end must not send them, and they are refused.
constexpr std::array kRequests{
    RequestInfo{R::get_features, "GET_FEATURES", S::empty_or_u64, F::none, true, true},
    RequestInfo{R::set_features, "SET_FEATURES", S::u64, F::none, false, true},
    RequestInfo{R::set_owner, "SET_OWNER", S::empty, F::none, false, true},
    RequestInfo{R::reset_owner, "RESET_OWNER", S::empty, F::none, false, true},
    RequestInfo{R::set_mem_table, "SET_MEM_TABLE", S::mem_table, F::per_region, false, true},
    RequestInfo{R::set_log_base, "SET_LOG_BASE", S::any, F::one, true, false},
    RequestInfo{R::set_log_fd, "SET_LOG_FD", S::any, F::one, false, false},
    RequestInfo{R::set_vring_num, "SET_VRING_NUM", S::vring_state, F::none, false, true},
    RequestInfo{R::set_vring_addr, "SET_VRING_ADDR", S::vring_addr, F::none, false, true},
    RequestInfo{R::set_vring_base, "SET_VRING_BASE", S::vring_state, F::none, false, true},
    RequestInfo{R::get_vring_base, "GET_VRING_BASE", S::vring_state, F::none, true, true},
    RequestInfo{R::set_vring_kick, "SET_VRING_KICK", S::u64, F::nofd_flag, false, true},
    RequestInfo{R::set_vring_call, "SET_VRING_CALL", S::u64, F::nofd_flag, false, true},
    RequestInfo{R::set_vring_err, "SET_VRING_ERR", S::u64, F::nofd_flag, false, true},
    RequestInfo{R::get_protocol_features, "GET_PROTOCOL_FEATURES", S::empty_or_u64, F::none, true, true},
    RequestInfo{R::set_protocol_features, "SET_PROTOCOL_FEATURES", S::u64, F::none, false, true},
    RequestInfo{R::get_queue_num, "GET_QUEUE_NUM", S::empty_or_u64, F::none, true, true},
    RequestInfo{R::set_vring_enable, "SET_VRING_ENABLE", S::vring_state, F::none, false, true},
    RequestInfo{R::send_rarp, "SEND_RARP", S::u64, F::none, false, true},
    RequestInfo{R::net_set_mtu, "NET_SET_MTU", S::u64, F::none, false, true},
    RequestInfo{R::set_backend_req_fd, "SET_BACKEND_REQ_FD", S::any, F::one, false, false},
    RequestInfo{R::iotlb_msg, "IOTLB_MSG", S::any, F::none, true, false},
    RequestInfo{R::set_vring_endian, "SET_VRING_ENDIAN", S::any, F::none, false, false},
    RequestInfo{R::get_config, "GET_CONFIG", S::any, F::none, true, false},
    RequestInfo{R::set_config, "SET_CONFIG", S::any, F::none, false, false},
    RequestInfo{R::create_crypto_session, "CREATE_CRYPTO_SESSION", S::any, F::none, true, false},
    RequestInfo{R::close_crypto_session, "CLOSE_CRYPTO_SESSION", S::any, F::none, false, false},
    RequestInfo{R::postcopy_advise, "POSTCOPY_ADVISE", S::any, F::none, true, false},
    RequestInfo{R::postcopy_listen, "POSTCOPY_LISTEN", S::any, F::none, true, false},
    RequestInfo{R::postcopy_end, "POSTCOPY_END", S::any, F::none, true, false},
    RequestInfo{R::get_inflight_fd, "GET_INFLIGHT_FD", S::any, F::none, true, false},
    RequestInfo{R::set_inflight_fd, "SET_INFLIGHT_FD", S::any, F::one, false, false},
    RequestInfo{R::gpu_set_socket, "GPU_SET_SOCKET", S::any, F::one, false, false},
    RequestInfo{R::reset_device, "RESET_DEVICE", S::any, F::none, false, false},
    RequestInfo{R::vring_kick, "VRING_KICK", S::any, F::none, false, false},
    RequestInfo{R::get_max_mem_slots, "GET_MAX_MEM_SLOTS", S::empty_or_u64, F::none, true, true},
    RequestInfo{R::add_mem_reg, "ADD_MEM_REG", S::single_region, F::one, false, true},
    RequestInfo{R::rem_mem_reg, "REM_MEM_REG", S::single_region, F::optional_one, false, true},
    RequestInfo{R::set_status, "SET_STATUS", S::u64, F::none, false, true},
    RequestInfo{R::get_status, "GET_STATUS", S::empty_or_u64, F::none, true, true},
};

// The table is indexed by request id - 1; keep it that way.
constexpr bool table_is_dense() {
  for (size_t i = 0; i < kRequests.size(); ++i)
    if (static_cast<uint32_t>(kRequests[i].request) != i + 1) return false;
  return true;
}
static_assert(table_is_dense());

}  // namespace

std::optional<RequestInfo> request_info(uint32_t request) {
  if (request == 0 || request > kRequests.size()) return std::nullopt;
  return kRequests[request - 1];
}

std::string_view request_name(uint32_t request) {
  auto info = request_info(request);
  return info ? info->name : std::string_view("UNKNOWN");
}

Message make_message(Request request, uint32_t flags) {
  Message m;
  m.hdr.request = static_cast<uint32_t>(request);
  m.hdr.flags = flags;
  m.hdr.size = 0;
  return m;
}

}  // namespace vnet::vhost_user
