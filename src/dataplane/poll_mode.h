// How a poll thread waits for work: the latency/CPU trade-off a user picks (--poll-mode).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace vnet::dataplane {

enum class PollMode : uint8_t {
  busy,       // never sleep: lowest latency, one full core per thread
  adaptive,   // poll while there is work; after an idle period arm notifications and sleep
  interrupt,  // sleep as soon as a round finds no work (notifications stay armed)
};

std::string_view to_string(PollMode mode);
std::optional<PollMode> parse_poll_mode(std::string_view name);

}  // namespace vnet::dataplane
