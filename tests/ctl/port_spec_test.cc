#include "ctl/port_spec.h"

#include <gtest/gtest.h>

namespace vnet::ctl {
namespace {

TEST(PortSpec, VhostUserWithAllOptions) {
  auto s = parse_port_spec("vhost-user:/run/vm1.sock,client,queues=4,name=vm1,vlan=20,bridge=br1,mode=0600");
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->kind, PortKind::vhost_user);
  EXPECT_EQ(s->path, "/run/vm1.sock");
  EXPECT_TRUE(s->client);
  EXPECT_EQ(s->queues, 4);
  EXPECT_EQ(s->name, "vm1");
  EXPECT_EQ(s->vlan, 20);
  EXPECT_EQ(s->bridge, "br1");
  EXPECT_EQ(s->socket_mode, 0600u);
}

TEST(PortSpec, DefaultsAndDerivedNames) {
  auto v = parse_port_spec("vhost-user:/tmp/guest-a.sock");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->name, "guest-a");
  EXPECT_FALSE(v->client);
  EXPECT_EQ(v->queues, 1);
  EXPECT_EQ(v->vlan, 1);
  EXPECT_EQ(v->socket_mode, 0660u);
  auto t = parse_port_spec("tap:vnet0,trunk=10+20");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->name, "vnet0");
  EXPECT_EQ(t->trunk, (std::vector<uint16_t>{10, 20}));
}

TEST(PortSpec, FormatRoundTrips) {
  for (const char* text : {"vhost-user:/a/b.sock,client,queues=2,vlan=5", "tap:tap9,trunk=3+4+5,name=up", "vhost-user:/x,mode=0640"}) {
    auto s = parse_port_spec(text);
    ASSERT_TRUE(s.ok()) << text;
    auto again = parse_port_spec(format_port_spec(s.value()));
    ASSERT_TRUE(again.ok()) << format_port_spec(s.value());
    EXPECT_EQ(again.value(), s.value());
  }
}

TEST(PortSpec, RejectsBadInputWithReason) {
  struct Case {
    const char* text;
    const char* reason;
  } cases[] = {
      {"/run/vm.sock", "expected vhost-user:PATH"},
      {"veth:foo", "unknown port type"},
      {"vhost-user:/a,queues=0", "queues must be"},
      {"vhost-user:/a,queues=x", "bad value"},
      {"vhost-user:/a,queues=99", "queues must be"},
      {"vhost-user:/a,vlan=4095", "vlan must be"},
      {"vhost-user:/a,trunk=1+0", "trunk VLANs"},
      {"vhost-user:/a,color=red", "unknown option"},
      {"tap:averyveryverylongname", "too long"},
      {"tap:t0,client", "vhost-user ports only"},
      {"vhost-user:", "needs a socket path"},
      {"vhost-user:/a,name=bad/name", "may only contain"},
      {"vhost-user:/a,mode=999", "bad value"},
  };
  for (const auto& c : cases) {
    auto s = parse_port_spec(c.text);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_NE(s.error().message().find(c.reason), std::string::npos) << c.text << " -> " << s.error().message();
  }
}

}  // namespace
}  // namespace vnet::ctl
