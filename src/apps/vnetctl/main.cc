// vnetctl: the control CLI. Sends one JSON request to vnetd's control socket and prints the
// reply as aligned tables (or the raw JSON with --json, stable for scripts).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

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

uint64_t num(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

// " key=value" for every non-zero counter of a reasons object, or "" when all are zero.
std::string nonzero(const Json& reasons) {
  std::string line;
  if (!reasons.is_object()) return line;
  for (const auto& [k, v] : reasons.items())
    if (v.is_number_unsigned() && v.get<uint64_t>() > 0) line += fmt::format(" {}={}", k, v.get<uint64_t>());
  return line;
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
  // LEARN_FAIL is the total; its non-zero causes follow the table.
  Table bridges({"BRIDGE", "PORTS", "FDB", "CAPACITY", "PER_PORT", "AGING_S", "UNKNOWN_IN", "LEARN_FAIL"});
  std::string causes;
  for (const auto& b : r.value("bridges", Json::array())) {
    bridges.add({str(b["name"]), str(b.value("port_count", Json())), str(b["fdb_entries"]), str(b["fdb_capacity"]),
                 str(b.value("fdb_capacity_per_port", Json())), str(b["aging_seconds"]),
                 str(b.value("unknown_ingress", Json())), str(b.value("learn_fail", Json()))});
    Json fails = Json::object();
    for (const auto& [k, v] : b.items())
      if (k.rfind("learn_fail_", 0) == 0) fails[k.substr(11)] = v;
    if (auto line = nonzero(fails); !line.empty()) causes += fmt::format("{} learn_fail:{}\n", str(b["name"]), line);
  }
  std::cout << "\n" << bridges.render() << causes;
}

// Columns shared by the port and queue rows of `stats`. DROPS of a port includes what the
// bridge dropped for it; its queues' DROPS are the port's own.
std::vector<std::string> counter_cells(const Json& j) {
  return {str(j["rx_packets"]), str(j["rx_bytes"]), str(j["tx_packets"]), str(j["tx_bytes"]), str(j["drops"]),
          str(j["errors"]), str(j.value("sw_checksums", Json())), str(j.value("sw_gso_frames", Json())),
          str(j.value("sw_segments", Json()))};
}

std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// `vnetctl stats PORT`: per queue and direction, the notification and polling counters, then
// every non-zero drop and error reason of each queue.
void print_port_detail(const Json& p) {
  const Json queues = p.value("queues", Json::array());
  bool vhost = false;
  for (const auto& q : queues) vhost |= q.contains("rx_kicks");
  if (vhost) {
    Table t({"QUEUE", "DIR", "KICKS", "CALLS", "EMPTY_POLLS", "BUSY_POLLS"});
    for (const auto& q : queues)
      for (const char* dir : {"rx", "tx"}) {
        auto key = [&](const char* k) { return str(q.value(fmt::format("{}_{}", dir, k), Json())); };
        t.add({str(q["queue"]), dir, key("kicks"), key("calls"), key("empty_polls"), key("busy_polls")});
      }
    std::cout << "\n" << t.render();
  }
  std::cout << "\n";
  for (const auto& q : queues) {
    std::string drops = nonzero(q.value("drop_reasons", Json::object()));
    std::string errors = nonzero(q.value("error_reasons", Json::object()));
    std::cout << fmt::format("queue {}: drops:{}\n", str(q["queue"]), drops.empty() ? " none" : drops);
    if (!errors.empty()) std::cout << fmt::format("queue {}: errors:{}\n", str(q["queue"]), errors);
  }
  Json sw = Json::object();
  const Json port_drops = p.value("drop_reasons", Json::object());
  for (const auto& [k, v] : port_drops.items())
    if (k.rfind("switch_", 0) == 0) sw[k] = v;
  const Json bridge = p.value("bridge", Json::object());
  for (const auto& [k, v] : bridge.items())
    if (k.rfind("learn_fail_", 0) == 0) sw[k] = v;
  std::string line = nonzero(sw);
  std::cout << fmt::format("bridge: flooded={} learned={} moved={} fdb_entries={}{}\n", num(bridge, "flooded"),
                           num(bridge, "learned"), num(bridge, "moved"), num(bridge, "fdb_entries"), line);
}

void print_stats(const Json& r, bool detail) {
  Table t({"PORT", "QUEUE", "RX_PKTS", "RX_BYTES", "TX_PKTS", "TX_BYTES", "DROPS", "ERRORS", "SW_CSUM", "SW_GSO",
           "SW_SEGS"});
  for (const auto& p : r.value("ports", Json::array())) {
    t.add(cat({str(p["name"]), "all"}, counter_cells(p)));
    for (const auto& q : p.value("queues", Json::array())) t.add(cat({"", str(q["queue"])}, counter_cells(q)));
  }
  std::cout << t.render();
  if (detail) {
    for (const auto& p : r.value("ports", Json::array())) print_port_detail(p);
    return;
  }
  // Non-zero drop and error reasons, so that a user sees why without --json.
  for (const auto& p : r.value("ports", Json::array())) {
    for (const char* kind : {"drop_reasons", "error_reasons"}) {
      std::string line = nonzero(p.value(kind, Json::object()));
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

  auto* show = app.add_subcommand("show", "ports, poll threads and bridges");
  auto* stats = app.add_subcommand("stats", "per port and queue counters (with PORT: per queue details)");
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
  else if (cmd == "stats") print_stats(*r, !stats_port.empty());
  else if (cmd == "fdb") print_fdb(*r);
  else if (cmd == "add-port") std::cout << "added port " << str((*r)["name"]) << "\n";
  else if (cmd == "del-port") std::cout << "removed port " << name << "\n";
  else std::cout << key << " = " << value << "\n";
  return 0;
}
