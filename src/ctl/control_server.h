// The control socket: newline-delimited JSON requests and replies over a unix socket.
//   request:  {"cmd": "stats", "args": {...}}
//   reply:    {"ok": true, "result": ...}   or   {"ok": false, "error": "reason"}
// One thread serves clients one at a time; a client that stalls is dropped after a timeout, so
// it cannot block the control path for long. The datapath never waits for this thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/fd.h"

namespace vnet::ctl {

using Json = nlohmann::json;
// Answers one request: the result, or an Error whose message goes back to the client.
using RequestHandler = std::function<Result<Json>(const std::string& cmd, const Json& args)>;

class ControlServer {
 public:
  static Result<std::unique_ptr<ControlServer>> start(const std::string& path, uint32_t mode, RequestHandler handler);
  ~ControlServer();
  const std::string& path() const { return path_; }

 private:
  ControlServer(std::string path, UniqueFd listen_fd, UniqueFd wake_fd, RequestHandler handler);
  void run();
  void serve(int client);

  std::string path_;
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;
  RequestHandler handler_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The reply for a raw request line (exposed for tests and fuzzing: never throws).
std::string handle_request_line(const std::string& line, const RequestHandler& handler);

// Client side (vnetctl): sends one request and waits for the reply.
Result<Json> call(const std::string& path, const std::string& cmd, const Json& args, int timeout_ms = 5000);

}  // namespace vnet::ctl
