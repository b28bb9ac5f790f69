#include "apps/vnet_perf/sequence_tracker.h"

#include <algorithm>

namespace vnet::perf {

StreamLoss stream_loss(std::span<const SequenceTracker* const> queues, uint64_t expected_total, uint64_t untracked) {
  StreamLoss r;
  for (const SequenceTracker* q : queues) r.reordered += q->reordered();
  for (uint16_t s = 0; s < SequenceTracker::kMaxStreams; ++s) {
    uint64_t highest = 0, received = 0;
    for (const SequenceTracker* q : queues) {
      highest = std::max(highest, q->next(s));
      received += q->received(s);
    }
    r.received += received;
    // More frames than sequence numbers would be duplicates; they do not make a negative loss.
    if (highest > received) r.lost += highest - received;
  }
  // Frames sent after the last one that arrived are only visible against the sent count.
  const uint64_t arrived = r.received + untracked;
  if (expected_total > arrived) r.lost = std::max(r.lost, expected_total - arrived);
  return r;
}

}  // namespace vnet::perf
