// Aligned text tables for vnetctl's human output.
#pragma once

#include <string>
#include <vector>

namespace vnet::ctl {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Columns padded to their widest cell, two spaces apart; numbers are right-aligned.
  std::string render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace vnet::ctl
