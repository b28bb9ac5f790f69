#include "ctl/control_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/eventfd.h"
#include "base/log.h"
#include "base/unix_socket.h"

namespace vnet::ctl {
namespace {

constexpr size_t kMaxRequestBytes = 64 * 1024;
constexpr int kClientTimeoutMs = 5000;

// Reads one '\n'-terminated line within the deadline; false on EOF, timeout or oversize.
bool read_line(int fd, std::string& line, int timeout_ms) {
  line.clear();
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return false;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    line.append(buf, static_cast<size_t>(n));
    if (auto nl = line.find('\n'); nl != std::string::npos) {
      line.resize(nl);
      return true;
    }
    if (line.size() > kMaxRequestBytes) return false;
  }
}

bool write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string handle_request_line(const std::string& line, const RequestHandler& handler) {
  Json reply;
  Json req = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (req.is_discarded() || !req.is_object()) {
    reply = {{"ok", false}, {"error", "request is not a JSON object"}};
  } else if (!req.contains("cmd") || !req["cmd"].is_string()) {
    reply = {{"ok", false}, {"error", "request has no \"cmd\" string"}};
  } else {
    Json args = req.value("args", Json::object());
    if (!args.is_object()) {
      reply = {{"ok", false}, {"error", "\"args\" must be an object"}};
    } else {
      try {
        auto r = handler(req["cmd"].get<std::string>(), args);
        if (r) reply = {{"ok", true}, {"result", std::move(r.value())}};
        else reply = {{"ok", false}, {"error", r.error().message()}};
      } catch (const Json::exception& e) {
        // Arguments of the wrong JSON type end up here.
        reply = {{"ok", false}, {"error", std::string("bad arguments: ") + e.what()}};
      }
    }
  }
  return reply.dump() + "\n";
}

Result<std::unique_ptr<ControlServer>> ControlServer::start(const std::string& path, uint32_t mode,
                                                            RequestHandler handler) {
  auto fd = listen_unix(path, mode);
  if (!fd) return Error("control socket: " + fd.error().message());
  auto wake = make_eventfd();
  if (!wake) return wake.error();
  auto* s = new ControlServer(path, std::move(fd.value()), std::move(wake.value()), std::move(handler));
  return std::unique_ptr<ControlServer>(s);
}

ControlServer::ControlServer(std::string path, UniqueFd listen_fd, UniqueFd wake_fd, RequestHandler handler)
    : path_(std::move(path)), listen_fd_(std::move(listen_fd)), wake_fd_(std::move(wake_fd)), handler_(std::move(handler)) {
  thread_ = std::thread([this] { run(); });
}

ControlServer::~ControlServer() {
  stop_ = true;
  eventfd_signal(wake_fd_.get());
  thread_.join();
  ::unlink(path_.c_str());
}

void ControlServer::run() {
  while (!stop_.load()) {
    pollfd p[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) continue;
    if (p[1].revents) continue;
    UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (client) serve(client.get());
  }
}

void ControlServer::serve(int client) {
  std::string line;
  while (!stop_.load() && read_line(client, line, kClientTimeoutMs)) {
    if (!write_all(client, handle_request_line(line, handler_))) return;
  }
}

Result<Json> call(const std::string& path, const std::string& cmd, const Json& args, int timeout_ms) {
  auto fd = connect_unix(path);
  if (!fd) return Error("cannot reach vnetd at " + path + ": " + fd.error().message() + " (is vnetd running? use --ctl PATH)");
  Json req = {{"cmd", cmd}, {"args", args}};
  if (!write_all(fd->get(), req.dump() + "\n")) return sys_error("send to " + path);
  std::string line;
  if (!read_line(fd->get(), line, timeout_ms)) return Error("no reply from vnetd at " + path);
  Json reply = Json::parse(line, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) return Error("malformed reply from vnetd");
  if (!reply.value("ok", false)) return Error(reply.value("error", std::string("unknown error")));
  return reply.value("result", Json());
}

}  // namespace vnet::ctl
