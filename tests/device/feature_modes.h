// The ring feature matrix the datapath tests run over (MRG_RXBUF x EVENT_IDX x INDIRECT_DESC),
// shared by the direct harness tests and the ones over a real vhost-user connection.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "device/guest_harness.h"

namespace vnet::device::testing {

struct FeatureMode {
  bool mrg, event_idx, indirect;
};

inline std::string feature_mode_name(const ::testing::TestParamInfo<FeatureMode>& i) {
  return std::string(i.param.mrg ? "Mrg" : "NoMrg") + (i.param.event_idx ? "EventIdx" : "NoEventIdx") +
         (i.param.indirect ? "Indirect" : "Direct");
}

// Guest options for a mode: 256-entry rings, the mode's features.
inline GuestOptions feature_mode_options(FeatureMode m) {
  GuestOptions o;
  o.mrg_rxbuf = m.mrg;
  o.event_idx = m.event_idx;
  o.indirect = m.indirect;
  o.qsize = 256;
  return o;
}

inline auto all_feature_modes() {
  return ::testing::Values(FeatureMode{true, true, true}, FeatureMode{true, true, false}, FeatureMode{true, false, true},
                           FeatureMode{true, false, false}, FeatureMode{false, true, true},
                           FeatureMode{false, true, false}, FeatureMode{false, false, true},
                           FeatureMode{false, false, false});
}

}  // namespace vnet::device::testing
