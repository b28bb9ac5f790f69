#include "ctl/config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace vnet::ctl {
namespace {

TEST(Config, DefaultIsOneBridgeAdaptiveOneThread) {
  DaemonConfig c = default_config();
  ASSERT_EQ(c.bridges.size(), 1u);
  EXPECT_EQ(c.bridges[0].name, "br0");
  EXPECT_EQ(c.bridges[0].aging_seconds, 300u);
  EXPECT_EQ(c.poll_mode, PollMode::adaptive);
  EXPECT_EQ(c.pmd_threads, 1u);
  EXPECT_FALSE(c.ctl_path.empty());
  EXPECT_TRUE(validate_config(c).ok());
}

TEST(Config, ExampleFileInTheRepoParses) {
  std::string path = std::string(VNET_SOURCE_DIR) + "/examples/vnetd.toml";
  auto c = load_config_file(path);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_GE(c->ports.size(), 2u);
}

TEST(Config, FullDocument) {
  auto c = parse_config(R"(
[daemon]
ctl = "/tmp/x/vnetd.sock"
log_level = "debug"
mtu = 9000
[datapath]
pmd_threads = 2
pmd_cores = [0, 1]
poll_mode = "busy"
[[bridge]]
name = "br0"
aging_seconds = 60
[[bridge]]
name = "lab"
max_entries = 100
max_entries_per_port = 10
[[port]]
type = "vhost-user"
path = "/tmp/vm1.sock"
queues = 2
vlan = 7
[[port]]
type = "tap"
ifname = "tap0"
bridge = "lab"
trunk = [10, 20]
[[port]]
type = "vhost-user"
name = "up"
path = "/tmp/up.sock"
client = true
socket_mode = "0600"
)", "test.toml");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->ctl_path, "/tmp/x/vnetd.sock");
  EXPECT_EQ(c->mtu, 9000u);
  EXPECT_EQ(c->pmd_cores, (std::vector<int>{0, 1}));
  EXPECT_EQ(c->poll_mode, PollMode::busy);
  ASSERT_EQ(c->bridges.size(), 2u);
  EXPECT_EQ(c->bridges[0].aging_seconds, 60u);
  EXPECT_EQ(c->bridges[1].max_entries_per_port, 10u);
  ASSERT_EQ(c->ports.size(), 3u);
  EXPECT_EQ(c->ports[0].name, "vm1");
  EXPECT_EQ(c->ports[0].queues, 2);
  EXPECT_EQ(c->ports[1].trunk, (std::vector<uint16_t>{10, 20}));
  EXPECT_TRUE(c->ports[2].client);
  EXPECT_EQ(c->ports[2].socket_mode, 0600u);
}

// Each invalid document is rejected with "source:line: reason".
TEST(Config, InvalidDocumentsNameLineAndReason) {
  struct Case {
    const char* text;
    const char* where;
    const char* reason;
  } cases[] = {
      {"[daemon]\nlog_level = 3\n", "t.toml:2:", "must be a string"},
      {"[daemon]\n\nlog_level = \"loud\"\n", "t.toml:3:", "log_level must be"},
      {"[datapath]\npmd_threads = 0\n", "t.toml:2:", "between 1 and 64"},
      {"[datapath]\npoll_mode = \"sometimes\"\n", "t.toml:2:", "busy, adaptive or interrupt"},
      {"[[port]]\ntype = \"vhost-user\"\npath = \"/a\"\nqueues = 100\n", "t.toml:4:", "between 1 and 16"},
      {"[[port]]\ntype = \"veth\"\n", "t.toml:2:", "must be \"vhost-user\" or \"tap\""},
      {"[[port]]\ntype = \"tap\"\nifname = \"t0\"\ncolour = 1\n", "t.toml:4:", "unknown key 'colour'"},
      {"[daemon\n", "t.toml:1:", ""},
      {"[[port]]\ntype = \"tap\"\nifname = \"t0\"\nbridge = \"nope\"\n", "t.toml:", "unknown bridge 'nope'"},
      {"[[port]]\ntype = \"tap\"\nifname = \"t0\"\n[[port]]\ntype = \"tap\"\nifname = \"t0\"\n", "t.toml:", "used twice"},
      {"[[port]]\ntype = \"tap\"\nifname = \"t0\"\ntrunk = [1, 5000]\n", "t.toml:4:", "1 to 4094"},
      {"[daemon]\nctl_mode = \"rw\"\n", "t.toml:2:", "octal mode"},
      {"[datapath]\npmd_threads = 2\npmd_cores = [0]\n", "t.toml:", "1 pmd cores given for 2"},
  };
  for (const auto& c : cases) {
    auto r = parse_config(c.text, "t.toml");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().message().rfind(c.where, 0), 0u) << c.text << " -> " << r.error().message();
    EXPECT_NE(r.error().message().find(c.reason), std::string::npos) << c.text << " -> " << r.error().message();
  }
}

TEST(Config, MissingFileIsAnError) {
  auto r = load_config_file("/nonexistent/vnetd.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("/nonexistent/vnetd.toml"), std::string::npos);
}

}  // namespace
}  // namespace vnet::ctl
