#include "dataplane/poll_mode.h"

namespace vnet::dataplane {

std::string_view to_string(PollMode mode) {
  switch (mode) {
    case PollMode::busy: return "busy";
    case PollMode::adaptive: return "adaptive";
    case PollMode::interrupt: return "interrupt";
  }
  return "?";
}

std::optional<PollMode> parse_poll_mode(std::string_view name) {
  if (name == "busy") return PollMode::busy;
  if (name == "adaptive") return PollMode::adaptive;
  if (name == "interrupt") return PollMode::interrupt;
  return std::nullopt;
}

}  // namespace vnet::dataplane
