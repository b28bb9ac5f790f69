// vnetctl: the control CLI. Sends one JSON request to vnetd's control socket and prints the
// reply as aligned tables (or the raw JSON with --json, stable for scripts).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <iostream>

#include "ctl/config.h"
#include "ctl/control_server.h"
#include "ctl/table.h"

using vnet::ctl::Json;
using vnet::ctl::Table;

namespace {

std::string str(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "-";
  return j.dump();
}

void print_show(const Json& r) {
  std::cout << fmt::format("vnetd: poll mode {}, {} poll thread(s)\n\n", str(r.value("poll_mode", Json())),
                           r.value("threads", Json::array()).size());
  Table ports({"PORT", "TYPE", "BRIDGE", "VLAN", "STATE", "QUEUES", "SPEC"});
  for (const auto& p : r.value("ports", Json::array()))
    ports.add({str(p["name"]), str(p["type"]), str(p["bridge"]), str(p["vlan"]), str(p["state"]), str(p["queues"]), str(p["spec"])});
  std::cout << ports.render();
  Table threads({"THREAD", "CORE", "QUEUES"});
  for (const auto& t : r.value("threads", Json::array())) {
    std::string qs;
    for (const auto& q : t.value("queues", Json::array())) qs += (qs.empty() ? "" : " ") + str(q);
    threads.add({str(t["id"]), str(t["core"]), qs.empty() ? "-" : qs});
  }
  std::cout << "\n" << threads.render();
}

void print_stats(const Json& r) {
  Table t({"PORT", "QUEUE", "RX_PKTS", "RX_BYTES", "TX_PKTS", "TX_BYTES", "DROPS", "ERRORS"});
  for (const auto& p : r.value("ports", Json::array())) {
    t.add({str(p["name"]), "all", str(p["rx_packets"]), str(p["rx_bytes"]), str(p["tx_packets"]), str(p["tx_bytes"]),
           str(p["drops"]), str(p["errors"])});
    for (const auto& q : p.value("queues", Json::array()))
      t.add({"", str(q["queue"]), str(q["rx_packets"]), str(q["rx_bytes"]), str(q["tx_packets"]), str(q["tx_bytes"]),
             str(q["drops"]), str(q["errors"])});
  }
  std::cout << t.render();
  // Non-zero drop and error reasons, so that a user sees why without --json.
  for (const auto& p : r.value("ports", Json::array())) {
    for (const char* kind : {"drop_reasons", "error_reasons"}) {
      std::string line;
      const Json reasons = p.value(kind, Json::object());
      for (const auto& [k, v] : reasons.items())
        if (v.is_number() && v.get<uint64_t>() > 0) line += fmt::format(" {}={}", k, v.get<uint64_t>());
      if (!line.empty()) std::cout << fmt::format("{} {}:{}\n", str(p["name"]), kind, line);
    }
  }
}

void print_fdb(const Json& r) {
  Table t({"BRIDGE", "VLAN", "MAC", "PORT", "AGE"});
  for (const auto& e : r.value("entries", Json::array()))
    t.add({str(e["bridge"]), str(e["vlan"]), str(e["mac"]), str(e["port"]), str(e["age"])});
  std::cout << t.render();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vnetctl: control a running vnetd"};
  app.require_subcommand(1);
  std::string ctl = vnet::ctl::default_ctl_path();
  app.add_option("--ctl", ctl, "vnetd control socket")->capture_default_str();
  bool json = false;

  auto* show = app.add_subcommand("show", "bridges, ports and poll threads");
  auto* stats = app.add_subcommand("stats", "per port and queue counters");
  std::string stats_port;
  stats->add_option("PORT", stats_port, "only this port");
  stats->add_flag("--json", json, "raw JSON");
  auto* add = app.add_subcommand("add-port", "add a port: vhost-user:PATH[,...] or tap:IFNAME[,...]");
  std::string spec;
  add->add_option("SPEC", spec)->required();
  auto* del = app.add_subcommand("del-port", "remove a port");
  std::string name;
  del->add_option("NAME", name)->required();
  auto* fdb = app.add_subcommand("fdb", "learned MAC addresses");
  fdb->add_flag("--json", json, "raw JSON");
  show->add_flag("--json", json, "raw JSON");
  auto* set = app.add_subcommand("set", "change a setting: log-level L | aging SECONDS | poll-mode M");
  std::string key, value;
  set->add_option("KEY", key)->required();
  set->add_option("VALUE", value)->required();

  CLI11_PARSE(app, argc, argv);

  std::string cmd;
  Json args = Json::object();
  if (*show) cmd = "show";
  else if (*stats) {
    cmd = "stats";
    if (!stats_port.empty()) args["port"] = stats_port;
  } else if (*add) {
    cmd = "add-port";
    args["spec"] = spec;
  } else if (*del) {
    cmd = "del-port";
    args["name"] = name;
  } else if (*fdb) cmd = "fdb";
  else if (*set) {
    cmd = "set";
    args["key"] = key;
    args["value"] = value;
  }

  auto r = vnet::ctl::call(ctl, cmd, args);
  if (!r) {
    std::cerr << "vnetctl: " << r.error().message() << "\n";
    return 1;
  }
  if (json) {
    std::cout << r->dump(2) << "\n";
    return 0;
  }
  if (cmd == "show") print_show(*r);
  else if (cmd == "stats") print_stats(*r);
  else if (cmd == "fdb") print_fdb(*r);
  else if (cmd == "add-port") std::cout << "added port " << str((*r)["name"]) << "\n";
  else if (cmd == "del-port") std::cout << "removed port " << name << "\n";
  else std::cout << key << " = " << value << "\n";
  return 0;
}
