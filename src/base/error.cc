#include "base/error.h"

#include <cstring>

namespace vnet {

Error sys_error(const std::string& what, int err) {
  return Error(what + ": " + std::strerror(err), err);
}

}  // namespace vnet
