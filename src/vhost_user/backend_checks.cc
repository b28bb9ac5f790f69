#include "vhost_user/backend_checks.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

namespace vnet::vhost_user {

Status check_eventfd(int fd, std::string_view what) {
  std::ifstream info("/proc/self/fdinfo/" + std::to_string(fd));
  std::string line;
  while (std::getline(info, line))
    if (line.rfind("eventfd-count:", 0) == 0) return {};
  return Error(std::string(what) + " fd is not an eventfd");
}

void make_nonblocking(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0 && !(fl & O_NONBLOCK)) ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

Status check_region(const MemRegion& r, int fd, size_t index) {
  auto str = [](uint64_t v) { return std::to_string(v); };
  std::string what = "memory region " + str(index);
  if (r.memory_size == 0) return Error(what + " has size 0");
  uint64_t end = r.mmap_offset + r.memory_size;
  if (end < r.mmap_offset) return Error(what + ": mmap_offset + size overflows");
  if (r.guest_phys_addr + r.memory_size < r.guest_phys_addr) return Error(what + ": guest address range wraps");
  if (r.userspace_addr + r.memory_size < r.userspace_addr) return Error(what + ": front-end address range wraps");
  struct stat st {};
  if (::fstat(fd, &st) < 0) return sys_error(what + ": fstat");
  if (!S_ISREG(st.st_mode)) return Error(what + ": fd is not a memory file (memfd, shm or hugetlbfs)");
  if (static_cast<uint64_t>(st.st_size) < end)
    return Error(what + ": mmap_offset + size = " + str(end) + " is beyond the end of its file (" + str(st.st_size) + " bytes)");
  return {};
}

}  // namespace vnet::vhost_user
