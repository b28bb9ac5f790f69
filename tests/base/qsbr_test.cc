#include "base/qsbr.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace vnet {
namespace {

// Readers dereference a shared pointer between quiescent points; the writer swaps it and frees
// the old object after synchronize(). A freed object is poisoned first, so a reader that still
// held it would see the poison (and ASan/TSan would flag the access).
struct Obj {
  std::atomic<uint64_t> value;
};

TEST(Qsbr, WriterFreesOnlyAfterEveryReaderPassedQuiescentPoint) {
  Qsbr domain;
  std::atomic<Obj*> current{new Obj{{1}}};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0}, reads{0};
  std::atomic<int> ready{0};

  auto reader = [&] {
    Qsbr::Reader r(domain);
    ready.fetch_add(1);
    while (!stop.load()) {
      Obj* o = current.load(std::memory_order_acquire);
      for (int i = 0; i < 100; ++i)
        if (o->value.load(std::memory_order_relaxed) == 0xdead) bad.fetch_add(1);
      reads.fetch_add(1, std::memory_order_relaxed);
      r.quiescent();
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) readers.emplace_back(reader);
  // Every reader registered before the first replacement, so that each one is waited for.
  while (ready.load() < 3) std::this_thread::yield();

  for (uint64_t gen = 2; gen < 2000; ++gen) {
    Obj* old = current.exchange(new Obj{{gen}}, std::memory_order_acq_rel);
    domain.synchronize();
    old->value.store(0xdead);
    delete old;
  }
  stop = true;
  for (auto& t : readers) t.join();
  delete current.load();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
}

TEST(Qsbr, OfflineReaderDoesNotBlockSynchronize) {
  Qsbr domain;
  Qsbr::Reader r(domain);
  r.offline();
  std::atomic<bool> done{false};
  std::thread w([&] {
    domain.synchronize();
    done = true;
  });
  w.join();
  EXPECT_TRUE(done.load());
}

TEST(Qsbr, SynchronizeWaitsForOnlineReader) {
  Qsbr domain;
  std::atomic<bool> registered{false}, release{false}, synced{false};
  std::thread reader([&] {
    Qsbr::Reader r(domain);
    registered = true;
    while (!release.load()) std::this_thread::yield();
    r.quiescent();
    while (!synced.load()) std::this_thread::yield();
  });
  while (!registered.load()) std::this_thread::yield();
  std::thread writer([&] {
    domain.synchronize();
    synced = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(synced.load()) << "synchronize returned while a reader had not passed a quiescent point";
  release = true;
  writer.join();
  reader.join();
  EXPECT_TRUE(synced.load());
}

}  // namespace
}  // namespace vnet
