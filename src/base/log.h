// Leveled logging to stderr. One write() per line so lines from different threads never
// interleave. Never called per packet: the hot path counts, the control path logs.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <optional>
#include <string_view>

namespace vnet::log {

enum class Level : int { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_level(Level level);
Level level();
std::optional<Level> parse_level(std::string_view name);
void write(Level level, std::string_view message);

template <class... Args>
void at(Level lvl, fmt::format_string<Args...> f, Args&&... args) {
  if (static_cast<int>(lvl) < static_cast<int>(level())) return;
  write(lvl, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... a) { at(Level::debug, f, std::forward<Args>(a)...); }
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... a) { at(Level::info, f, std::forward<Args>(a)...); }
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... a) { at(Level::warn, f, std::forward<Args>(a)...); }
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... a) { at(Level::error, f, std::forward<Args>(a)...); }

}  // namespace vnet::log
