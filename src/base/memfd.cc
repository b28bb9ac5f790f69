#include "base/memfd.h"

#include <sys/mman.h>
#include <unistd.h>

#include <utility>

namespace vnet {

Result<MemfdMapping> MemfdMapping::create(const char* name, size_t size) {
  int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return sys_error("memfd_create");
  UniqueFd owned(fd);
  if (::ftruncate(fd, static_cast<off_t>(size)) < 0) return sys_error("ftruncate memfd");
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return sys_error("mmap memfd");
  return MemfdMapping(std::move(owned), static_cast<uint8_t*>(p), size);
}

MemfdMapping::MemfdMapping(MemfdMapping&& o) noexcept
    : fd_(std::move(o.fd_)), data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

MemfdMapping& MemfdMapping::operator=(MemfdMapping&& o) noexcept {
  if (this != &o) {
    if (data_) ::munmap(data_, size_);
    fd_ = std::move(o.fd_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

MemfdMapping::~MemfdMapping() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace vnet
