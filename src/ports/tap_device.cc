#include "ports/tap_device.h"

#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "ports/tap_frame_iov.h"

namespace vnet::ports {
namespace {

// What is behind an interface name in this namespace, to explain a TUNSETIFF refusal.
std::string describe_existing(const std::string& name) {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return "";
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (::ioctl(sock.get(), SIOCGIFINDEX, &ifr) != 0) return "";  // no such device
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  ifr.ifr_data = reinterpret_cast<char*>(&info);
  if (::ioctl(sock.get(), SIOCETHTOOL, &ifr) != 0) return "an existing device (driver unknown)";
  std::string driver(info.driver, strnlen(info.driver, sizeof(info.driver)));
  std::string bus(info.bus_info, strnlen(info.bus_info, sizeof(info.bus_info)));
  // tun's ethtool driver name is "tun"; bus_info says "tun" (layer 3) or "tap" (layer 2).
  if (driver == "tun") return bus == "tap" ? "tap" : "tun";
  return fmt::format("an existing {} device", driver.empty() ? "non-TAP" : driver);
}

Error setiff_error(const TapConfig& c, const std::string& name, int err) {
  switch (err) {
    case EPERM:
    case EACCES:
      return Error(fmt::format("tap {}: not permitted to create/attach the TAP device (needs "
                               "CAP_NET_ADMIN in the device's network namespace, or ownership of a "
                               "persistent tap)", name), err);
    case EINVAL:
    case EBUSY: {
      std::string what = describe_existing(name);
      if (what == "tun")
        return Error(fmt::format("tap {}: the name is in use by a TUN (layer 3) device, not a TAP "
                                 "device", name), err);
      if (what == "tap") {
        if (err == EBUSY)
          return Error(fmt::format("tap {}: the existing TAP device is already attached to "
                                   "another process (single queue) or has no free queue", name), err);
        return Error(fmt::format("tap {}: the existing TAP device's flags do not match: it must be "
                                 "created with multi_queue exactly when queues > 1 (asked for {} "
                                 "queue(s))", name, c.queues), err);
      }
      if (!what.empty())
        return Error(fmt::format("tap {}: the name is in use by {}, not a TAP device", name, what), err);
      return sys_error(fmt::format("tap {}: TUNSETIFF", name), err);
    }
    default:
      return sys_error(fmt::format("tap {}: TUNSETIFF", name), err);
  }
}

Status set_link(const std::string& name, const TapConfig& c) {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return sys_error("tap " + name + ": socket for interface ioctls");
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (c.mtu != 0) {
    ifr.ifr_mtu = static_cast<int>(c.mtu);
    if (::ioctl(sock.get(), SIOCSIFMTU, &ifr) != 0)
      return sys_error(fmt::format("tap {}: set MTU {}", name, c.mtu));
  }
  if (c.link_up) {
    if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) return sys_error("tap " + name + ": SIOCGIFFLAGS");
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) return sys_error("tap " + name + ": link up");
  }
  return {};
}

}  // namespace

Status set_tap_offload(int fd, unsigned flags) {
  if (::ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(flags)) != 0)
    return sys_error(fmt::format("TUNSETOFFLOAD {:#x}", flags));
  return {};
}

Result<TapDevice> open_tap_device(const TapConfig& c) {
  if (c.name.size() >= IFNAMSIZ)
    return Error(fmt::format("tap name '{}' is too long: {} characters, the kernel allows at most {}",
                             c.name, c.name.size(), IFNAMSIZ - 1), ENAMETOOLONG);
  if (c.name.find_first_of("/ \t\n:") != std::string::npos || c.name == "." || c.name == "..")
    return Error(fmt::format("tap name '{}' is not a valid interface name", c.name), EINVAL);
  if (c.queues == 0 || c.queues > kTapMaxQueues)
    return Error(fmt::format("tap {}: {} queues asked for; 1..{} allowed", c.name, c.queues, kTapMaxQueues),
                 EINVAL);

  TapDevice dev;
  dev.ifname = c.name;
  for (uint16_t q = 0; q < c.queues; ++q) {
    UniqueFd fd(::open(c.tun_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
      int err = errno;
      if (err == ENOENT || err == ENODEV || err == ENXIO)
        return Error(fmt::format("tap {}: {} is not available ({}): load the tun module or create "
                                 "the device node (mknod {} c 10 200)", c.name, c.tun_path,
                                 std::strerror(err), c.tun_path), err);
      if (err == EACCES || err == EPERM)
        return Error(fmt::format("tap {}: no permission to open {}", c.name, c.tun_path), err);
      return sys_error(fmt::format("tap {}: open {}", c.name, c.tun_path), err);
    }
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (c.queues > 1) ifr.ifr_flags |= IFF_MULTI_QUEUE;
    std::memcpy(ifr.ifr_name, dev.ifname.data(), dev.ifname.size());
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) return setiff_error(c, dev.ifname, errno);
    // The kernel fills in the name it chose ("tap%d") or confirmed.
    dev.ifname.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));

    int hdr = kTapVnetHdrSize;
    if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &hdr) != 0)
      return sys_error(fmt::format("tap {}: TUNSETVNETHDRSZ {}", dev.ifname, hdr));
    // virtio 1.x headers are little-endian; say so explicitly (a no-op on little-endian hosts).
    int le = 1;
    if (::ioctl(fd.get(), TUNSETVNETLE, &le) != 0 && errno != EINVAL)
      return sys_error(fmt::format("tap {}: TUNSETVNETLE", dev.ifname));
    dev.fds.push_back(std::move(fd));
  }
  // Offloads: none yet. This is where checksum/TSO flags go once the attached ports accept them
  // (the kernel then hands us partial-checksum and GSO frames up to 64 KiB).
  if (auto s = set_tap_offload(dev.fds[0].get(), kTapOffloadNone); !s)
    return Error(fmt::format("tap {}: {}", dev.ifname, s.error().message()), s.error().sys_errno());
  if (auto s = set_link(dev.ifname, c); !s) return s.error();
  return dev;
}

}  // namespace vnet::ports
