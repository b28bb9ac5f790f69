// A memfd with a MAP_SHARED mapping: the shared "guest memory" that our own front-end (the
// userspace driver) hands to a back-end, and the memory the tests build rings in.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "base/fd.h"

namespace vnet {

class MemfdMapping {
 public:
  static Result<MemfdMapping> create(const char* name, size_t size);
  MemfdMapping(MemfdMapping&& o) noexcept;
  MemfdMapping& operator=(MemfdMapping&& o) noexcept;
  MemfdMapping(const MemfdMapping&) = delete;
  MemfdMapping& operator=(const MemfdMapping&) = delete;
  ~MemfdMapping();

  int fd() const { return fd_.get(); }
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MemfdMapping(UniqueFd fd, uint8_t* data, size_t size) : fd_(std::move(fd)), data_(data), size_(size) {}
  UniqueFd fd_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace vnet
