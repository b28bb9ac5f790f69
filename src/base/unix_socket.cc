#include "base/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace vnet {
namespace {

Result<sockaddr_un> make_addr(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(a.sun_path))
    return Error("socket path '" + path + "' is empty or longer than " + std::to_string(sizeof(a.sun_path) - 1) + " bytes");
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

Status make_parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return {};
  std::string dir = path.substr(0, slash);
  struct stat st {};
  if (::lstat(dir.c_str(), &st) < 0) {
    if (errno != ENOENT) return sys_error("stat " + dir);
    if (auto s = make_parent_dir(dir); !s) return s;
    if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) return sys_error("mkdir " + dir);
    if (::lstat(dir.c_str(), &st) < 0) return sys_error("stat " + dir);
  }
  if (!S_ISDIR(st.st_mode)) return Error(dir + " is not a directory");
  // Others could swap our socket for theirs in a directory they can write to.
  bool others_write = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
  bool sticky = (st.st_mode & S_ISVTX) != 0;
  if (others_write && !sticky) return Error("refusing to create a socket in " + dir + ": writable by group or others");
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) return Error("refusing to create a socket in " + dir + ": owned by another user");
  return {};
}

}  // namespace

Result<UniqueFd> connect_unix(const std::string& path) {
  auto addr = make_addr(path);
  if (!addr) return addr.error();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return sys_error("socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr.value()), sizeof(sockaddr_un)) < 0)
    return sys_error("connect " + path);
  return fd;
}

Result<UniqueFd> listen_unix(const std::string& path, uint32_t mode, int backlog) {
  auto addr = make_addr(path);
  if (!addr) return addr.error();
  if (auto s = make_parent_dir(path); !s) return s.error();
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Error("refusing to replace " + path + ": it exists and is not a socket");
    if (st.st_uid != ::geteuid() && ::geteuid() != 0) return Error("refusing to replace " + path + ": owned by another user");
    if (connect_unix(path).ok()) return Error(path + " is in use by a running process");
    if (::unlink(path.c_str()) < 0) return sys_error("unlink stale socket " + path);
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return sys_error("socket");
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr.value()), sizeof(sockaddr_un)) < 0) return sys_error("bind " + path);
  if (::chmod(path.c_str(), mode) < 0) {
    int e = errno;
    ::unlink(path.c_str());
    return sys_error("chmod " + path, e);
  }
  if (::listen(fd.get(), backlog) < 0) return sys_error("listen " + path);
  return fd;
}

}  // namespace vnet
