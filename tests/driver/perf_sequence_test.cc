// vnet-perf's loss accounting (SequenceTracker / stream_loss): late frames are reordered, not
// lost; a stream spread over several receive queues shows no false loss; losses at the tail of a
// run count when the sent count is known. And LinkWatch notices a back-end hanging up.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "apps/vnet_perf/link_watch.h"
#include "apps/vnet_perf/sequence_tracker.h"

namespace vnet::perf {
namespace {

StreamLoss loss(std::initializer_list<const SequenceTracker*> qs, uint64_t expected = 0) {
  std::vector<const SequenceTracker*> v(qs);
  return stream_loss(v, expected);
}

TEST(SequenceTracker, InOrderIsNeitherLostNorReordered) {
  SequenceTracker q;
  for (uint64_t s = 0; s < 1000; ++s) ASSERT_TRUE(q.on_frame(3, s));
  const StreamLoss l = loss({&q});
  EXPECT_EQ(l.received, 1000u);
  EXPECT_EQ(l.lost, 0u);
  EXPECT_EQ(l.reordered, 0u);
  EXPECT_EQ(q.next(3), 1000u);
  EXPECT_EQ(q.received(3), 1000u);
}

TEST(SequenceTracker, GapIsLostUntilTheLateFrameArrives) {
  SequenceTracker q;
  for (uint64_t s : {0, 1, 3, 4}) q.on_frame(0, s);
  EXPECT_EQ(loss({&q}).lost, 1u);
  EXPECT_EQ(loss({&q}).reordered, 0u);
  q.on_frame(0, 2);  // late: reordered only, the gap closes
  const StreamLoss l = loss({&q});
  EXPECT_EQ(l.lost, 0u);
  EXPECT_EQ(l.reordered, 1u);
  EXPECT_EQ(l.received, 5u);
}

TEST(SequenceTracker, RealLossesStayLost) {
  SequenceTracker q;
  for (uint64_t s = 0; s < 100; ++s)
    if (s % 10 != 5) q.on_frame(1, s);
  EXPECT_EQ(loss({&q}).lost, 10u);
  EXPECT_EQ(loss({&q}).reordered, 0u);
}

TEST(SequenceTracker, StreamSpreadOverQueuesShowsNoFalseLoss) {
  // The back-end put even frames on one receive queue and odd ones on the other, and each queue
  // was drained at its own pace: each queue alone sees gaps, together nothing is missing.
  SequenceTracker q0, q1;
  for (uint64_t s = 0; s < 200; s += 2) q0.on_frame(0, s);
  for (uint64_t s = 1; s < 200; s += 2) q1.on_frame(0, s);
  StreamLoss l = loss({&q0, &q1});
  EXPECT_EQ(l.received, 200u);
  EXPECT_EQ(l.lost, 0u);
  EXPECT_EQ(l.reordered, 0u);
  // One frame that never came, on either queue, is one loss.
  SequenceTracker r0, r1;
  for (uint64_t s = 0; s < 200; ++s) {
    if (s == 77) continue;
    (s % 3 ? r0 : r1).on_frame(0, s);
  }
  l = loss({&r0, &r1});
  EXPECT_EQ(l.lost, 1u);
  EXPECT_EQ(l.received, 199u);
}

TEST(SequenceTracker, StreamsAreIndependent) {
  SequenceTracker q;
  for (uint64_t s = 0; s < 50; ++s) q.on_frame(0, s);
  for (uint64_t s = 0; s < 10; ++s) q.on_frame(1, s);
  q.on_frame(2, 9);  // stream 2: frames 0..8 missing
  const StreamLoss l = loss({&q});
  EXPECT_EQ(l.received, 61u);
  EXPECT_EQ(l.lost, 9u);
  EXPECT_EQ(l.reordered, 0u);
}

TEST(SequenceTracker, TailLossCountsOnlyAgainstAKnownSentCount) {
  SequenceTracker q0, q1;
  for (uint64_t s = 0; s < 40; ++s) q0.on_frame(0, s);
  for (uint64_t s = 0; s < 40; ++s) q1.on_frame(1, s);
  EXPECT_EQ(loss({&q0, &q1}).lost, 0u);           // frames after the last arrival are invisible
  EXPECT_EQ(loss({&q0, &q1}, 100).lost, 20u);     // ... unless the sender's count is known
  EXPECT_EQ(loss({&q0, &q1}, 80).lost, 0u);
  EXPECT_EQ(loss({&q0, &q1}, 50).lost, 0u);       // more than expected never goes negative
  // Gaps and tail: the larger of the two views (a gap is part of sent - received).
  SequenceTracker g;
  for (uint64_t s = 0; s < 30; ++s)
    if (s != 10) g.on_frame(0, s);
  EXPECT_EQ(loss({&g}, 40).lost, 11u);
}

TEST(SequenceTracker, UntrackedArrivalsCountAgainstTheSentCount) {
  SequenceTracker q;
  // A generator of frames that are not ours (testpmd txonly): all arrived, none lost.
  EXPECT_EQ(loss({&q}, 500).lost, 500u);
  EXPECT_EQ(stream_loss(std::vector<const SequenceTracker*>{&q}, 500, 500).lost, 0u);
  // Ours with two corrupt ones among them: the corrupt ones arrived.
  for (uint64_t s = 0; s < 100; ++s)
    if (s != 10 && s != 20) q.on_frame(0, s);
  const StreamLoss l = stream_loss(std::vector<const SequenceTracker*>{&q}, 100, 2);
  EXPECT_EQ(l.received, 98u);
  EXPECT_EQ(l.lost, 2u);  // still gaps in the sequence: nothing arrived intact for 10 and 20
  EXPECT_EQ(stream_loss(std::vector<const SequenceTracker*>{&q}, 110, 2).lost, 10u);
}

TEST(SequenceTracker, DuplicatesNeverMakeANegativeLoss) {
  SequenceTracker q;
  for (int i = 0; i < 3; ++i) q.on_frame(0, 0);
  const StreamLoss l = loss({&q});
  EXPECT_EQ(l.lost, 0u);
  EXPECT_EQ(l.received, 3u);
  EXPECT_EQ(l.reordered, 2u);  // not newer than what the queue had
}

TEST(SequenceTracker, OutOfRangeStreamIsRefused) {
  SequenceTracker q;
  EXPECT_FALSE(q.on_frame(SequenceTracker::kMaxStreams, 0));
  EXPECT_FALSE(q.on_frame(0xffff, 5));
  EXPECT_TRUE(q.on_frame(SequenceTracker::kMaxStreams - 1, 0));
  EXPECT_EQ(loss({&q}).received, 1u);
}

TEST(LinkWatch, NoticesThePeerHangingUpAndNothingElse) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  LinkWatch w(sv[0]);
  EXPECT_FALSE(w.wait_hangup(20));
  // Data from the peer is not a hang-up and does not make the wait return at once.
  ASSERT_EQ(::write(sv[1], "x", 1), 1);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(w.wait_hangup(50));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(40));
  ::close(sv[1]);
  EXPECT_TRUE(w.wait_hangup(5000));
  ::close(sv[0]);
}

TEST(LinkWatch, WithoutASocketItOnlyWaits) {
  LinkWatch w(-1);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(w.wait_hangup(30));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(25));
}

}  // namespace
}  // namespace vnet::perf
