#include "apps/vnet_perf/report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>

namespace vnet::perf {

std::string Figures::result_line() const {
  std::string s = "RESULT";
  for (const auto& [k, v] : items_) {
    if (auto* u = std::get_if<uint64_t>(&v)) s += fmt::format(" {}={}", k, *u);
    else if (auto* d = std::get_if<double>(&v)) s += fmt::format(" {}={:.4f}", k, *d);
    else s += fmt::format(" {}={}", k, std::get<std::string>(v));
  }
  return s;
}

std::string Figures::json() const {
  nlohmann::ordered_json j;
  for (const auto& [k, v] : items_) {
    if (auto* u = std::get_if<uint64_t>(&v)) j[k] = *u;
    else if (auto* d = std::get_if<double>(&v)) j[k] = std::round(*d * 10000) / 10000;
    else j[k] = std::get<std::string>(v);
  }
  return j.dump();
}

uint64_t percentile(const std::vector<uint64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  // The epsilon keeps 99.9% of 1000 at rank 999 despite binary rounding.
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size()) - 1e-9));
  if (rank == 0) rank = 1;
  if (rank > sorted.size()) rank = sorted.size();
  return sorted[rank - 1];
}

}  // namespace vnet::perf
