#include "mem/guest_memory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "base/memfd.h"

namespace vnet {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// Two regions from one memfd: GPA [0, 1M) at fd offset 0 and GPA [1M, 3M) at fd offset 1M,
// with front-end VAs elsewhere.
struct TwoRegions {
  MemfdMapping fdmem = MemfdMapping::create("guest", 3 * kMiB).value();
  std::shared_ptr<const MemoryTable> table;
  TwoRegions() {
    RegionSpec specs[] = {{fdmem.fd(), 0, kMiB, 0, 0x7f0000000000},
                          {fdmem.fd(), kMiB, 2 * kMiB, kMiB, 0x7f0000100000}};
    auto t = MemoryTable::map(specs);
    EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message());
    table = t.value();
  }
};

TEST(MemoryTable, TranslatesGpaInsideOneRegion) {
  TwoRegions m;
  HostSpan spans[4];
  size_t n = 0;
  ASSERT_EQ(m.table->translate_gpa(100, 50, spans, 4, n), TranslateStatus::ok);
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(spans[0].len, 50u);
  spans[0].data[0] = 7;
  EXPECT_EQ(m.fdmem.data()[100], 7);  // same shared pages through the fd
}

TEST(MemoryTable, BufferCrossingRegionsYieldsTwoSpans) {
  TwoRegions m;
  HostSpan spans[4];
  size_t n = 0;
  ASSERT_EQ(m.table->translate_gpa(kMiB - 10, 30, spans, 4, n), TranslateStatus::ok);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(spans[0].len, 10u);
  EXPECT_EQ(spans[1].len, 20u);
  spans[1].data[0] = 9;
  EXPECT_EQ(m.fdmem.data()[kMiB], 9);
  EXPECT_EQ(m.table->gpa_to_host(kMiB - 10, 30), nullptr) << "single-span lookup must refuse a split buffer";
}

TEST(MemoryTable, TranslatesFrontEndVirtualAddresses) {
  TwoRegions m;
  uint8_t* p = m.table->va_to_host(0x7f0000100000 + 5, 8);
  ASSERT_NE(p, nullptr);
  *p = 3;
  EXPECT_EQ(m.fdmem.data()[kMiB + 5], 3);
  EXPECT_EQ(m.table->va_to_host(0x1000, 1), nullptr);
}

TEST(MemoryTable, OutsideEveryRegionIsAnError) {
  TwoRegions m;
  HostSpan spans[4];
  size_t n = 0;
  EXPECT_EQ(m.table->translate_gpa(3 * kMiB, 1, spans, 4, n), TranslateStatus::unmapped);
  n = 0;
  EXPECT_EQ(m.table->translate_gpa(3 * kMiB - 1, 2, spans, 4, n), TranslateStatus::unmapped);
  n = 0;
  EXPECT_EQ(m.table->translate_gpa(UINT64_MAX - 1, 4, spans, 4, n), TranslateStatus::unmapped);
  n = 0;
  EXPECT_EQ(m.table->translate_gpa(kMiB - 1, 2, spans, 1, n), TranslateStatus::too_many_spans);
  EXPECT_EQ(m.table->gpa_to_host(3 * kMiB - 1, 2), nullptr);
}

TEST(MemoryTable, ZeroLengthTranslatesToNoSpans) {
  TwoRegions m;
  HostSpan spans[1];
  size_t n = 0;
  EXPECT_EQ(m.table->translate_gpa(5, 0, spans, 1, n), TranslateStatus::ok);
  EXPECT_EQ(n, 0u);
}

TEST(MemoryTable, RefusesOverlapZeroSizeAndOverflow) {
  auto fdmem = MemfdMapping::create("guest", 2 * kMiB).value();
  {
    RegionSpec s[] = {{fdmem.fd(), 0, kMiB, 0, 0x10000000}, {fdmem.fd(), kMiB, kMiB, kMiB / 2, 0x20000000}};
    auto t = MemoryTable::map(s);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message().find("overlap in guest physical"), std::string::npos);
  }
  {
    RegionSpec s[] = {{fdmem.fd(), 0, kMiB, 0, 0x10000000}, {fdmem.fd(), kMiB, kMiB, 4 * kMiB, 0x10000000 + 100}};
    auto t = MemoryTable::map(s);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message().find("front-end address space"), std::string::npos);
  }
  {
    RegionSpec s[] = {{fdmem.fd(), 0, 0, 0, 0}};
    auto t = MemoryTable::map(s);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message().find("size 0"), std::string::npos);
  }
  {
    RegionSpec s[] = {{fdmem.fd(), UINT64_MAX - 10, kMiB, 0, 0}};
    EXPECT_FALSE(MemoryTable::map(s).ok());
  }
  {
    RegionSpec s[] = {{fdmem.fd(), 0, kMiB, UINT64_MAX - 10, 0}};
    EXPECT_FALSE(MemoryTable::map(s).ok());
  }
  {
    RegionSpec s[] = {{-1, 0, kMiB, 0, 0}};
    auto t = MemoryTable::map(s);
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message().find("fstat"), std::string::npos);
  }
}

// Readers translate and touch guest memory continuously while the control thread replaces the
// table with freshly mapped ones. Each old table's mapping is really munmap()ed after
// replace(); a reader still using it would fault.
TEST(GuestMemory, ConcurrentReadersSurviveRepeatedReplacement) {
  Qsbr domain;
  GuestMemory gm(domain);
  auto fdmem = MemfdMapping::create("guest", 64 * 1024).value();
  auto make = [&](uint64_t gpa_base) {
    RegionSpec s[] = {{fdmem.fd(), 0, 64 * 1024, gpa_base, 0x1000000}};
    return MemoryTable::map(s).value();
  };
  gm.replace(make(0));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> translations{0}, unmapped{0};

  auto reader = [&](uint64_t slot) {
    Qsbr::Reader r(domain);
    HostSpan spans[2];
    while (!stop.load(std::memory_order_relaxed)) {
      const MemoryTable* t = gm.current();
      size_t n = 0;
      uint64_t base = t->regions()[0].gpa;
      // Each reader its own 128 bytes: the readers must not race with each other.
      if (t->translate_gpa(base + 4096 + slot * 128, 128, spans, 2, n) == TranslateStatus::ok) {
        volatile uint8_t sum = 0;
        for (uint32_t i = 0; i < spans[0].len; ++i) sum = static_cast<uint8_t>(sum + spans[0].data[i]);
        spans[0].data[0] = sum;
        translations.fetch_add(1, std::memory_order_relaxed);
      } else {
        unmapped.fetch_add(1);
      }
      r.quiescent();
    }
  };
  std::vector<std::thread> readers;
  for (uint64_t i = 0; i < 2; ++i) readers.emplace_back(reader, i);
  for (int i = 0; i < 500; ++i) gm.replace(make(static_cast<uint64_t>(i % 7) * 0x100000));
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(unmapped.load(), 0u);
  EXPECT_GT(translations.load(), 0u);
}

}  // namespace
}  // namespace vnet
