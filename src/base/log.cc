#include "base/log.h"

#include <unistd.h>

#include <chrono>
#include <string>

namespace vnet::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
const char* name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
    default: return "?";
  }
}
}  // namespace

void set_level(Level l) { g_level.store(static_cast<int>(l), std::memory_order_relaxed); }
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

std::optional<Level> parse_level(std::string_view n) {
  if (n == "debug") return Level::debug;
  if (n == "info") return Level::info;
  if (n == "warn" || n == "warning") return Level::warn;
  if (n == "error") return Level::error;
  if (n == "off") return Level::off;
  return std::nullopt;
}

void write(Level l, std::string_view msg) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::string line = fmt::format("{}.{:03d} [{}] {}\n", ms / 1000, static_cast<int>(ms % 1000), name(l), msg);
  // A single write keeps concurrent lines whole; a failed log write has nowhere to be reported.
  [[maybe_unused]] auto r = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace vnet::log
