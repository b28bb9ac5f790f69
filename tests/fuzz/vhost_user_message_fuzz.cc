// Fuzzes the back-end over its message stream: the input is a sequence of framed records, each
// turned into one vhost-user message sent through a real socketpair to a BackendConnection,
// with fds made up per record (memfds of a few sizes, eventfds). A device that touches every
// ring it is given checks that started rings point into mapped guest memory (ASan).
//
// Record: u8 request | u8 flag bits | u8 fd spec | u16 payload length | payload.
//   flag bits: 0 NEED_REPLY, 1 bad version, 2 REPLY set, 3 raw request id (request | 0x100)
//   fd spec:   bits 0-1 fd count, bits 2-4 kind per fd (0 eventfd, 1 memfd 64 KiB, ...)
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "base/eventfd.h"
#include "base/log.h"
#include "base/memfd.h"
#include "vhost_user/backend_connection.h"
#include "virtio/ring_layout.h"

using namespace vnet;
using namespace vnet::vhost_user;

namespace {

class TouchingDevice : public DeviceBackend {
 public:
  virtio::Features device_features() const override {
    return virtio::bit(virtio::kFVersion1) | virtio::bit(virtio::kNetFMrgRxbuf) | virtio::bit(virtio::kFRingEventIdx) |
           virtio::bit(virtio::kNetFMq) | virtio::bit(virtio::kNetFMtu);
  }
  uint16_t max_queue_pairs() const override { return 2; }
  void attach_memory(const GuestMemory*) override {}
  void set_features(virtio::Features) override {}
  void start_ring(const VringSetup& s) override {
    if (running_.count(s.index)) __builtin_trap();  // started twice without a stop
    // Touch the first and last byte of each area as the device would.
    volatile uint8_t sink = 0;
    sink = sink + s.desc[0] + s.desc[virtio::desc_area_size(s.size) - 1];
    sink = sink + s.avail[0] + s.avail[virtio::avail_area_size(s.size) - 1];
    s.used[0] = s.used[0];
    s.used[virtio::used_area_size(s.size) - 1] = sink;
    running_[s.index] = s.last_avail_idx;
  }
  uint16_t stop_ring(uint16_t index) override {
    auto it = running_.find(index);
    if (it == running_.end()) __builtin_trap();  // stop of a ring that is not running
    uint16_t v = it->second;
    running_.erase(it);
    return v;
  }
  void enable_ring(uint16_t index, bool) override {
    if (!running_.count(index)) __builtin_trap();
  }
  void set_call_fd(uint16_t index, int) override {
    if (!running_.count(index)) __builtin_trap();
  }
  void set_mtu(uint16_t) override {}
  void send_rarp(const uint8_t*) override {}
  void reset() override {
    if (!running_.empty()) __builtin_trap();  // reset with rings still running
  }

 private:
  std::map<uint16_t, uint16_t> running_;
};

constexpr size_t kMemfdSizes[] = {4096, 65536, 256 * 1024, 12288};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // VNET_FUZZ_LOG=1 shows what a single input does (e.g. that a seed really starts rings).
  log::set_level(std::getenv("VNET_FUZZ_LOG") ? log::Level::debug : log::Level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return 0;
  UniqueFd peer(sv[1]);
  TouchingDevice dev;
  BackendConnection conn(UniqueFd(sv[0]), dev, "fuzz");

  size_t pos = 0;
  for (int n = 0; n < 64 && pos + 5 <= size && !conn.closed(); ++n) {
    uint8_t req = data[pos], fl = data[pos + 1], fdspec = data[pos + 2];
    uint16_t len;
    std::memcpy(&len, data + pos + 3, 2);
    pos += 5;
    len = static_cast<uint16_t>(std::min<size_t>(len, size - pos));
    MessageHeader hdr{};
    hdr.request = (fl & 8) ? (req | 0x100u) : req % 42u;
    hdr.flags = ((fl & 2) ? 2u : kVersion) | ((fl & 1) ? kFlagNeedReply : 0) | ((fl & 4) ? kFlagReply : 0);
    hdr.size = len;

    std::vector<UniqueFd> owned;
    std::vector<int> fds;
    for (int i = 0; i < (fdspec & 3); ++i) {
      unsigned kind = (fdspec >> (2 + i)) & 1 ? 1 + ((fdspec >> 5) + i) % 4 : 0;
      if (kind == 0) {
        auto e = make_eventfd();
        if (!e) continue;
        owned.push_back(std::move(e.value()));
      } else {
        auto m = MemfdMapping::create("fuzz", kMemfdSizes[kind - 1]);
        if (!m) continue;
        owned.emplace_back(::dup(m->fd()));
      }
      fds.push_back(owned.back().get());
    }

    // One message: header then payload, fds with the header.
    std::vector<uint8_t> frame(sizeof(hdr) + len);
    std::memcpy(frame.data(), &hdr, sizeof(hdr));
    if (len) std::memcpy(frame.data() + sizeof(hdr), data + pos, len);
    pos += len;
    iovec iov{frame.data(), frame.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 3)];
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (!fds.empty()) {
      mh.msg_control = control;
      mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&mh);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    if (::sendmsg(peer.get(), &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != static_cast<ssize_t>(frame.size())) break;
    (void)conn.on_readable();
    // Drain replies so the socket never fills up.
    uint8_t sink[512];
    while (::recv(peer.get(), sink, sizeof(sink), MSG_DONTWAIT) > 0) {
    }
  }
  // The front-end goes away: everything must be released without tripping the device checks.
  peer.reset();
  if (!conn.closed()) (void)conn.on_readable();
  conn.close();
  return 0;
}
