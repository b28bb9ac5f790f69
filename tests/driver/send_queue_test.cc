// TX: frames and headers arrive intact, indirect layout when negotiated, the ring-full stop and
// resume on completion, header metadata checks and counters.
#include <gtest/gtest.h>

#include "driver/driver_rig.h"

namespace vnet::driver::testing {
namespace {

using namespace virtio;

TEST(DriverTx, FramesArriveWithHeader) {
  for (bool indirect : {true, false}) {
    DriverConfig cfg = Rig::small_config();
    cfg.indirect_desc = indirect;
    Rig r(cfg);
    ASSERT_EQ(r.drv->indirect(), indirect);
    auto& tx = r.drv->tx(0);
    for (size_t len : {14u, 60u, 1514u, 1518u}) ASSERT_EQ(tx.send({}, make_frame(len, static_cast<uint8_t>(len))), TxStatus::ok);
    tx.flush();
    EXPECT_EQ(r.h.kicks(1), 1u) << "one kick for the burst";
    auto sent = r.h.take_tx(0);
    ASSERT_EQ(sent.size(), 4u);
    size_t i = 0;
    for (size_t len : {14u, 60u, 1514u, 1518u}) {
      EXPECT_EQ(sent[i].bytes, make_frame(len, static_cast<uint8_t>(len))) << len;
      EXPECT_EQ(sent[i].hdr.flags, 0);
      EXPECT_EQ(sent[i].hdr.gso_type, kNetHdrGsoNone);
      ++i;
    }
    // Indirect: one ring descriptor per frame, flagged INDIRECT.
    auto& v = r.h.vrings.at(1);
    auto* desc = reinterpret_cast<VringDesc*>(r.h.table->va_to_host(v.desc, 16 * 16));
    EXPECT_EQ((desc[sent[0].head].flags & kDescFIndirect) != 0, indirect);
    EXPECT_EQ(tx.reclaim(), 4u);
    EXPECT_EQ(tx.stats().packets.get(), 4u);
    EXPECT_EQ(tx.stats().bytes.get(), 14u + 60 + 1514 + 1518);
    EXPECT_EQ(tx.stats().completions.get(), 4u);
    EXPECT_EQ(tx.in_flight(), 0);
  }
}

TEST(DriverTx, RingFullStopsAndCompletionResumes) {
  Rig r;
  auto& tx = r.drv->tx(0);
  const auto f = make_frame(100);
  int sent = 0;
  while (tx.send({}, f) == TxStatus::ok) ++sent;
  EXPECT_EQ(sent, 16);
  EXPECT_TRUE(tx.stopped());
  EXPECT_EQ(tx.send({}, f), TxStatus::ring_full);
  EXPECT_EQ(tx.stats().ring_full.get(), 1u) << "one stop, however often it is retried";
  tx.flush();
  EXPECT_EQ(r.h.take_tx(0, 5).size(), 5u);
  EXPECT_EQ(tx.send({}, f), TxStatus::ok) << "completions reclaimed by the send path";
  EXPECT_FALSE(tx.stopped());
  EXPECT_EQ(tx.stats().wakes.get(), 1u);
  EXPECT_EQ(tx.stats().completions.get(), 5u);
  EXPECT_EQ(tx.in_flight(), 12);
  EXPECT_EQ(tx.stats().packets.get(), 17u);
}

TEST(DriverTx, WaitSpaceTimesOutWhenNothingCompletes) {
  Rig r;
  auto& tx = r.drv->tx(0);
  while (tx.send({}, make_frame(60)) == TxStatus::ok) {
  }
  EXPECT_FALSE(tx.wait_space(10));
  EXPECT_TRUE(tx.stopped());
  EXPECT_EQ(r.h.take_tx(0, 2).size(), 2u);
  EXPECT_TRUE(tx.wait_space(0)) << "completions reclaimed straight away";
  EXPECT_EQ(tx.in_flight(), 14);
}

TEST(DriverTx, ZeroCopyReserveCommit) {
  Rig r;
  auto& tx = r.drv->tx(0);
  auto area = tx.reserve();
  ASSERT_GE(area.size(), 1518u);
  const auto f = make_frame(200, 9);
  std::memcpy(area.data(), f.data(), f.size());
  ASSERT_EQ(tx.commit({}, 200), TxStatus::ok);
  tx.flush();
  auto s = r.h.take_tx(0);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].bytes, f);
}

TEST(DriverTx, HeaderMetadataChecked) {
  Rig r;  // CSUM/TSO not asked for
  auto& tx = r.drv->tx(0);
  NetHdr csum{};
  csum.flags = kNetHdrFNeedsCsum;
  csum.csum_start = 34;
  csum.csum_offset = 6;
  EXPECT_EQ(tx.send(csum, make_frame(100)), TxStatus::bad_header);
  NetHdr gso{};
  gso.gso_type = kNetHdrGsoTcpv4;
  EXPECT_EQ(tx.send(gso, make_frame(100)), TxStatus::bad_header);
  EXPECT_EQ(tx.send({}, make_frame(5000)), TxStatus::too_big);
  EXPECT_EQ(tx.send({}, {}), TxStatus::too_big);
  EXPECT_EQ(tx.stats().drops.get(), 4u);
  EXPECT_EQ(tx.stats().packets.get(), 0u);
  EXPECT_EQ(tx.in_flight(), 0) << "refused frames hold no slot";
}

TEST(DriverTx, CsumAndTsoWhenNegotiated) {
  DriverConfig cfg = Rig::small_config();
  cfg.csum = true;
  cfg.host_tso = true;
  Rig r(cfg);
  ASSERT_TRUE(has(r.h.negotiated, kNetFHostTso4));
  auto& tx = r.drv->tx(0);
  EXPECT_GE(r.drv->max_tx_frame(), 65535u);
  NetHdr h{};
  h.flags = kNetHdrFNeedsCsum;
  h.gso_type = kNetHdrGsoTcpv4;
  h.gso_size = 1448;
  h.hdr_len = 54;
  h.csum_start = 34;
  h.csum_offset = 16;
  const auto f = make_frame(20000, 4);
  ASSERT_EQ(tx.send(h, f), TxStatus::ok);
  NetHdr bad = h;
  bad.csum_start = 19999;
  EXPECT_EQ(tx.send(bad, f), TxStatus::bad_header) << "checksum field outside the frame";
  tx.flush();
  auto s = r.h.take_tx(0);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].bytes, f);
  EXPECT_EQ(s[0].hdr.gso_size, 1448);
  EXPECT_EQ(s[0].hdr.gso_type, kNetHdrGsoTcpv4);
  EXPECT_EQ(s[0].hdr.csum_offset, 16);
}

TEST(DriverTx, BadCompletionIdStopsTheQueue) {
  Rig r;
  auto& tx = r.drv->tx(0);
  ASSERT_EQ(tx.send({}, make_frame(60)), TxStatus::ok);
  tx.flush();
  auto s = r.h.take_tx(0, 1, false);
  r.h.push_raw(1, 9, 0);  // head 9 never went out
  r.h.publish(1);
  EXPECT_EQ(tx.reclaim(), 0u);
  EXPECT_TRUE(tx.broken());
  EXPECT_EQ(tx.stats().ring_errors.get(), 1u);
  EXPECT_EQ(tx.send({}, make_frame(60)), TxStatus::broken);
}

TEST(DriverTx, MultiQueueFramesStayOnTheirQueue) {
  DriverConfig cfg = Rig::small_config();
  cfg.queue_pairs = 3;
  Rig r(cfg);
  ASSERT_EQ(r.drv->queue_pairs(), 3);
  for (uint16_t q = 0; q < 3; ++q) {
    ASSERT_EQ(r.drv->tx(q).send({}, make_frame(60 + q, static_cast<uint8_t>(q))), TxStatus::ok);
    r.drv->tx(q).flush();
  }
  for (uint16_t q = 0; q < 3; ++q) {
    auto s = r.h.take_tx(q);
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].bytes, make_frame(60 + q, static_cast<uint8_t>(q)));
    ASSERT_EQ(r.h.deliver(q, make_frame(70 + q, static_cast<uint8_t>(q))), 1);
    Collect c;
    EXPECT_EQ(r.drv->rx(q).poll(8, c), 1);
    EXPECT_EQ(c.frames.at(0), make_frame(70 + q, static_cast<uint8_t>(q)));
  }
}

}  // namespace
}  // namespace vnet::driver::testing
