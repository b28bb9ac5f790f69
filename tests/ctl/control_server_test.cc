#include "ctl/control_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/unix_socket.h"

namespace vnet::ctl {
namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/vnet-ctl-XXXXXX";
  return mkdtemp(tmpl);
}

Result<Json> echo_handler(const std::string& cmd, const Json& args) {
  if (cmd == "echo") return Json(args);
  if (cmd == "typed") return Json(args.at("n").get<int>() * 2);
  return Error("unknown command '" + cmd + "'");
}

TEST(ControlServer, RequestsRepliesAndErrors) {
  std::string dir = temp_dir();
  std::string path = dir + "/ctl.sock";
  auto server = ControlServer::start(path, 0660, echo_handler);
  ASSERT_TRUE(server.ok()) << server.error().message();
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  auto r = call(path, "echo", Json{{"a", 1}});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ((*r)["a"], 1);
  auto e = call(path, "nope", Json::object());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message(), "unknown command 'nope'");
  auto t = call(path, "typed", Json{{"n", "not a number"}});
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("bad arguments"), std::string::npos);

  server.value().reset();
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "socket removed on shutdown";
  auto gone = call(path, "echo", Json::object());
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.error().message().find("is vnetd running"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(ControlServer, MalformedLinesGetErrorsNotCrashes) {
  for (const char* line : {"", "garbage", "[1,2]", "{\"cmd\": 5}", "{\"cmd\":\"echo\",\"args\":[]}", "{\"cmd\":\"echo\"}"}) {
    std::string reply = handle_request_line(line, echo_handler);
    Json j = Json::parse(reply);
    ASSERT_TRUE(j.contains("ok")) << line;
    if (std::string(line) == "{\"cmd\":\"echo\"}") EXPECT_TRUE(j["ok"].get<bool>());
    else EXPECT_FALSE(j["ok"].get<bool>()) << line;
  }
}

TEST(UnixSocket, RefusesUnsafePaths) {
  std::string dir = temp_dir();
  // A regular file is never replaced.
  std::string file = dir + "/file";
  std::ofstream(file) << "x";
  auto r = listen_unix(file, 0660);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("not a socket"), std::string::npos);
  // A live socket is not stolen; a stale one is replaced.
  std::string sock = dir + "/s.sock";
  {
    auto live = listen_unix(sock, 0660);
    ASSERT_TRUE(live.ok());
    auto again = listen_unix(sock, 0660);
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.error().message().find("in use"), std::string::npos);
  }
  EXPECT_TRUE(listen_unix(sock, 0660).ok()) << "stale socket replaced";
  // A world-writable, non-sticky parent directory is refused.
  std::string open_dir = dir + "/open";
  mkdir(open_dir.c_str(), 0777);
  chmod(open_dir.c_str(), 0777);
  auto w = listen_unix(open_dir + "/x.sock", 0660);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message().find("writable by group or others"), std::string::npos);
  // A missing parent is created.
  EXPECT_TRUE(listen_unix(dir + "/new/sub/x.sock", 0600).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vnet::ctl
