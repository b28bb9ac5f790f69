// vnet-perf results: the per-second progress line, and the final figures as one
// "RESULT key=value ..." line or (with --json) the same keys as a JSON object.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace vnet::perf {

// Ordered key/value figures (order kept for the RESULT line).
class Figures {
 public:
  void add(const std::string& key, uint64_t v) { items_.emplace_back(key, v); }
  void add(const std::string& key, double v) { items_.emplace_back(key, v); }
  void add(const std::string& key, const std::string& v) { items_.emplace_back(key, v); }
  std::string result_line() const;
  std::string json() const;

 private:
  std::vector<std::pair<std::string, std::variant<uint64_t, double, std::string>>> items_;
};

// Nearest-rank percentile of sorted samples (0 when empty).
uint64_t percentile(const std::vector<uint64_t>& sorted, double p);

}  // namespace vnet::perf
