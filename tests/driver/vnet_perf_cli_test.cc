// vnet-perf's command line contract: bad arguments are usage errors (exit 2), an unreachable
// socket is a clear error with a non-zero exit, --help works.
#include <gtest/gtest.h>

#include <cstdlib>

#include "driver/child_process.h"

namespace vnet::driver::testing {
namespace {

using namespace std::chrono_literals;

struct RunResult {
  int code;
  std::string out;
};

RunResult run(std::vector<std::string> args) {
  const char* d = std::getenv("VNET_BIN_DIR");
  args.insert(args.begin(), std::string(d ? d : "build/asan/bin") + "/vnet-perf");
  char tmpl[] = "/tmp/vnet-perf-cli-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  ::close(fd);
  ChildProcess p(args, tmpl);
  RunResult r{p.wait(30s), p.log()};
  ::unlink(tmpl);
  return r;
}

TEST(VnetPerfCli, UsageErrorsExit2) {
  const std::vector<std::vector<std::string>> bad = {
      {},                                                      // neither --connect nor --listen
      {"--connect", "/tmp/x.sock", "--listen", "/tmp/y.sock"},  // both
      {"--connect", "/tmp/x.sock", "--mode", "sideways"},
      {"--connect", "/tmp/x.sock", "--size", "20"},
      {"--connect", "/tmp/x.sock", "--size", "100000"},
      {"--connect", "/tmp/x.sock", "--queues", "0"},
      {"--connect", "/tmp/x.sock", "--src-mac", "02:00:00"},
      {"--connect", "/tmp/x.sock", "--dst-mac", "zz:00:00:00:00:01"},
      {"--connect", "/tmp/x.sock", "--queue-size", "100"},
      {"--connect", "/tmp/x.sock", "--size", "4000"},  // above the default MTU
      {"--connect", "/tmp/x.sock", "--bogus"},
  };
  for (const auto& args : bad) {
    const RunResult r = run(args);
    std::string joined;
    for (auto& a : args) joined += a + " ";
    EXPECT_EQ(r.code, 2) << joined << "\n" << r.out;
    EXPECT_FALSE(r.out.empty()) << "a usage error says why: " << joined;
  }
}

TEST(VnetPerfCli, HelpExits0) {
  const RunResult r = run({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--mode"), std::string::npos);
}

TEST(VnetPerfCli, UnreachableSocketIsAClearError) {
  const RunResult r = run({"--connect", "/nonexistent-dir/vnet.sock", "--timeout", "0.2"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("/nonexistent-dir/vnet.sock"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("RESULT"), std::string::npos);
}

TEST(VnetPerfCli, ListenTimesOutWithoutBackend) {
  char dir[] = "/tmp/vnet-perf-listen-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string sock = std::string(dir) + "/l.sock";
  const RunResult r = run({"--listen", sock, "--timeout", "0.3"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(sock), std::string::npos) << r.out;
  ::rmdir(dir);
}

}  // namespace
}  // namespace vnet::driver::testing
