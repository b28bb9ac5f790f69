// Typed results for the control path: a Result<T> holds either a value or an Error with a
// human-readable message (and the errno when a syscall failed). The hot path does not use these;
// it uses small enums (see virtio/ring_error.h) so that no string is built per packet.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace vnet {

class Error {
 public:
  explicit Error(std::string message, int sys_errno = 0)
      : message_(std::move(message)), errno_(sys_errno) {}
  const std::string& message() const { return message_; }
  int sys_errno() const { return errno_; }

 private:
  std::string message_;
  int errno_;
};

// Builds an Error for a failed syscall from errno: "what: strerror(errno)".
Error sys_error(const std::string& what, int err = errno);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}           // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}       // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_{""};
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace vnet
