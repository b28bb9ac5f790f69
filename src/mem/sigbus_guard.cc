#include "mem/sigbus_guard.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <mutex>

namespace vnet {
namespace {

// One registered mapping. The handler reads it lock-free: `start` is published last (release)
// and cleared first, so a non-zero start always comes with its length and page size.
struct Range {
  std::atomic<uintptr_t> start{0};
  std::atomic<size_t> length{0};
  std::atomic<size_t> page_size{0};
  std::atomic<uint64_t> faults{0};
};
static_assert(std::atomic<uintptr_t>::is_always_lock_free && std::atomic<uint64_t>::is_always_lock_free,
              "the signal handler needs lock-free atomics");

std::array<Range, SigbusGuard::kMaxRanges> g_ranges;
std::mutex g_slots_mu;  // add/remove only (never taken in the handler)
std::atomic<int> g_event_fd{-1};
struct sigaction g_previous {};
std::once_flag g_install_once;
bool g_installed = false;

void on_sigbus(int sig, siginfo_t* info, void* context) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (Range& r : g_ranges) {
    const uintptr_t start = r.start.load(std::memory_order_acquire);
    if (start == 0 || addr < start || addr - start >= r.length.load(std::memory_order_relaxed)) continue;
    const size_t page = r.page_size.load(std::memory_order_relaxed);
    void* at = reinterpret_cast<void*>(addr & ~(uintptr_t{page} - 1));
    // The page is gone from the file: put private zeros in its place and retry the access.
    if (::mmap(at, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) break;
    r.faults.fetch_add(1, std::memory_order_relaxed);
    const uint64_t one = 1;
    const int fd = g_event_fd.load(std::memory_order_relaxed);
    if (fd >= 0) (void)!::write(fd, &one, sizeof(one));
    return;
  }
  // Not guest memory: whatever would have happened without us.
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) return g_previous.sa_sigaction(sig, info, context);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    return g_previous.sa_handler(sig);
  }
  // Default action: returning re-executes the faulting access, which now kills with a core.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(SIGBUS, &dfl, nullptr);
}

}  // namespace

bool SigbusGuard::install() {
  std::call_once(g_install_once, [] {
    const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return;
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(SIGBUS, &sa, &g_previous) < 0) {
      ::close(fd);
      return;
    }
    g_event_fd.store(fd, std::memory_order_release);
    g_installed = true;
  });
  return g_installed;
}

int SigbusGuard::add(uint8_t* base, size_t length, size_t page_size) {
  if (!base || length == 0 || page_size == 0 || (page_size & (page_size - 1)) != 0) return -1;
  std::lock_guard lk(g_slots_mu);
  for (int i = 0; i < kMaxRanges; ++i) {
    Range& r = g_ranges[static_cast<size_t>(i)];
    if (r.start.load(std::memory_order_relaxed) != 0) continue;
    r.length.store(length, std::memory_order_relaxed);
    r.page_size.store(page_size, std::memory_order_relaxed);
    r.faults.store(0, std::memory_order_relaxed);
    r.start.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
    return i;
  }
  return -1;
}

void SigbusGuard::remove(int slot) {
  if (slot < 0 || slot >= kMaxRanges) return;
  std::lock_guard lk(g_slots_mu);
  g_ranges[static_cast<size_t>(slot)].start.store(0, std::memory_order_release);
}

uint64_t SigbusGuard::faults(int slot) {
  if (slot < 0 || slot >= kMaxRanges) return 0;
  return g_ranges[static_cast<size_t>(slot)].faults.load(std::memory_order_relaxed);
}

int SigbusGuard::event_fd() { return g_event_fd.load(std::memory_order_acquire); }

}  // namespace vnet
