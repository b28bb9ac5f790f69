// Unix stream sockets for the control socket and vhost-user endpoints, with the ownership
// checks a daemon needs before it binds a path: never follow a symlink, never remove anything
// but a stale socket, never bind in a directory others can write to (unless sticky).
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"
#include "base/fd.h"

namespace vnet {

// Creates the parent directory if needed (0755), removes a stale socket (one nobody accepts
// on), binds, chmods to `mode` and listens. Refuses a path that exists and is not a socket, a
// socket something still listens on, a symlink, and a parent directory writable by others.
Result<UniqueFd> listen_unix(const std::string& path, uint32_t mode, int backlog = 16);
// Connects (blocking); the returned fd is close-on-exec.
Result<UniqueFd> connect_unix(const std::string& path);

}  // namespace vnet
