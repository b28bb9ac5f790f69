#include "tap_netns.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <vector>

extern char** environ;

#include <fmt/format.h>

namespace vnet::ports::testing {

namespace {

// Spawns `timeout -k 2 T prefix... sh -c cmd`, collecting stdout+stderr (no shell quoting).
CmdResult run_argv(std::vector<std::string> prefix, const std::string& cmd, int timeout_s) {
  std::vector<std::string> args{"timeout", "-k", "2", std::to_string(timeout_s)};
  for (auto& a : prefix) args.push_back(std::move(a));
  args.insert(args.end(), {"sh", "-c", cmd});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int pfd[2];
  if (::pipe2(pfd, O_CLOEXEC) != 0) return {-1, "pipe failed"};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
  pid_t pid;
  int rc = ::posix_spawnp(&pid, "timeout", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(pfd[1]);
  if (rc != 0) {
    ::close(pfd[0]);
    return {-1, "spawn failed"};
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pfd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  ::close(pfd[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace

CmdResult run(const std::string& cmd, int timeout_s) { return run_argv({}, cmd, timeout_s); }

std::string tap_requirements_problem() {
  if (::geteuid() != 0) return "the tap tests need root (CAP_NET_ADMIN, CAP_SYS_ADMIN for netns)";
  struct stat st;
  if (::stat("/dev/net/tun", &st) != 0) return "/dev/net/tun is missing (load the tun module)";
  int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return "/dev/net/tun cannot be opened";
  ::close(fd);
  std::string probe = fmt::format("vnt{}-probe", ::getpid());
  auto r = run(fmt::format("ip netns add {0} && ip netns del {0}", probe), 10);
  if (r.status != 0) return "`ip netns add` does not work here: " + r.output;
  r = run("for t in iperf3 busybox ss ethtool; do command -v $t >/dev/null || echo \"$t is missing\"; done", 10);
  if (!r.output.empty()) return r.output + "(scripts/deps installs them)";
  return "";
}

Netns::Netns(const std::string& tag) : name_(fmt::format("vnt{}-{}", ::getpid(), tag)) {
  run("ip netns del " + name_ + " 2>/dev/null", 10);
  auto r = run(fmt::format("ip netns add {0} && ip -n {0} link set lo up && "
                           "ip netns exec {0} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
                           "net.ipv6.conf.default.disable_ipv6=1", name_), 10);
  if (r.status != 0) {
    std::fprintf(stderr, "FATAL: cannot create netns %s: %s\n", name_.c_str(), r.output.c_str());
    std::abort();
  }
}

Netns::~Netns() {
  // Processes started inside (iperf3) would keep the namespace alive; end them first.
  run(fmt::format("ip netns pids {0} | xargs -r kill -9; ip netns del {0}", name_), 10);
}

CmdResult Netns::exec(const std::string& cmd, int timeout_s) const {
  return run_argv({"ip", "netns", "exec", name_}, cmd, timeout_s);
}

void Netns::enter() const {
  std::string path = "/run/netns/" + name_;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "FATAL: cannot enter netns %s\n", name_.c_str());
    std::abort();
  }
  ::close(fd);
}

void cleanup_stale_netns() {
  DIR* d = ::opendir("/run/netns");
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    int pid = 0;
    if (std::sscanf(e->d_name, "vnt%d-", &pid) != 1 || pid <= 0) continue;
    if (::kill(pid, 0) == 0 || errno == EPERM) continue;  // its owner still runs
    run(fmt::format("ip netns pids {0} | xargs -r kill -9; ip netns del {0}", e->d_name), 10);
  }
  ::closedir(d);
}

}  // namespace vnet::ports::testing
