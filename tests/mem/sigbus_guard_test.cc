// SigbusGuard: guest memory whose file the front-end truncates reads as zeros and is counted;
// a SIGBUS outside guest memory still kills the process.
#include "mem/sigbus_guard.h"

#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

#include "base/memfd.h"
#include "mem/guest_memory.h"

namespace vnet {
namespace {

constexpr size_t kSize = 64 * 1024;

UniqueFd filled_memfd(uint8_t byte) {
  UniqueFd fd(::memfd_create("sigbus-test", MFD_CLOEXEC));
  EXPECT_TRUE(fd);
  EXPECT_EQ(::ftruncate(fd.get(), kSize), 0);
  std::vector<uint8_t> bytes(kSize, byte);
  EXPECT_EQ(::pwrite(fd.get(), bytes.data(), kSize, 0), static_cast<ssize_t>(kSize));
  return fd;
}

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

TEST(SigbusGuard, TruncatedGuestMemoryReadsZerosAndIsCounted) {
  ASSERT_TRUE(SigbusGuard::install());
  ASSERT_TRUE(SigbusGuard::install()) << "idempotent";
  UniqueFd fd = filled_memfd(0xab);
  const RegionSpec spec{fd.get(), 0, kSize, 0, 0x7f0000000000};
  auto table = MemoryTable::map(std::span(&spec, 1));
  ASSERT_TRUE(table) << table.error().message();
  const MemoryTable& t = *table.value();
  volatile uint8_t* first = t.gpa_to_host(0, 1);
  volatile uint8_t* lost = t.gpa_to_host(8192, 4096);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(lost, nullptr);
  EXPECT_EQ(*lost, 0xab);
  EXPECT_EQ(t.sigbus_faults(), 0u);

  ASSERT_EQ(::ftruncate(fd.get(), 4096), 0);  // what a hostile front-end does
  EXPECT_EQ(*lost, 0) << "a lost page reads as zeros";
  lost[1] = 7;  // and takes stores (private: nothing reaches the file)
  EXPECT_EQ(lost[1], 7);
  EXPECT_EQ(*first, 0xab) << "pages still in the file are untouched";
  EXPECT_EQ(t.sigbus_faults(), 1u) << "one page replaced";
  EXPECT_TRUE(readable(SigbusGuard::event_fd(), 1000)) << "the control path is told";
  (void)*(lost + 4096 * 4);  // another lost page
  EXPECT_EQ(t.sigbus_faults(), 2u);
}

TEST(SigbusGuard, SlotsAreReleasedWithTheirMapping) {
  ASSERT_TRUE(SigbusGuard::install());
  // More tables than slots over time: each releases its slot when it goes.
  for (int i = 0; i < SigbusGuard::kMaxRanges + 10; ++i) {
    UniqueFd fd = filled_memfd(1);
    const RegionSpec spec{fd.get(), 0, kSize, 0, 0x7f0000000000};
    auto table = MemoryTable::map(std::span(&spec, 1));
    ASSERT_TRUE(table);
    if (i == SigbusGuard::kMaxRanges + 5) {
      ASSERT_EQ(::ftruncate(fd.get(), 0), 0);
      EXPECT_EQ(*table.value()->gpa_to_host(100, 1), 0) << "still guarded after many tables came and went";
      EXPECT_EQ(table.value()->sigbus_faults(), 1u);
    }
  }
}

TEST(SigbusGuardDeathTest, SigbusOutsideGuestMemoryStillKills) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ASSERT_TRUE(SigbusGuard::install());
  EXPECT_DEATH(
      {
        UniqueFd fd = filled_memfd(1);
        auto* p = static_cast<volatile uint8_t*>(::mmap(nullptr, kSize, PROT_READ, MAP_SHARED, fd.get(), 0));
        if (::ftruncate(fd.get(), 0) == 0) (void)p[8192];
        std::fprintf(stderr, "survived\n");
        std::exit(0);
      },
      "");
}

}  // namespace
}  // namespace vnet
