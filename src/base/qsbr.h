// Quiescent-state-based reclamation (QSBR), the userspace form of RCU that poll threads use.
//
// Poll threads (readers) use shared control-plane objects (memory tables, port lists) without
// locks. They announce a quiescent point between bursts, when they hold no reference to such an
// object, and go offline while sleeping in epoll. A writer that replaced an object calls
// synchronize(): when it returns, every reader has passed a quiescent point (or was offline)
// after the replacement was published, so no reader can still hold the old object and it can
// be freed (e.g. a guest memory mapping unmapped).
//
// Cost on the hot path: one relaxed-load plus one release-store per quiescent() call.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace vnet {

class Qsbr {
 public:
  // The process-wide domain used by the datapath.
  static Qsbr& global();

  // Registration of one reader thread. Constructed online.
  class Reader {
   public:
    explicit Reader(Qsbr& domain);
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    // "I hold no reference to any protected object right now."
    void quiescent();
    // Stop being waited for (before blocking in epoll); online() before touching objects again.
    void offline();
    void online();

   private:
    Qsbr& domain_;
    std::shared_ptr<std::atomic<uint64_t>> seen_;
  };

  // Waits until every online reader has passed a quiescent point that started after this call.
  // Must not be called from a thread that is itself an online reader.
  void synchronize();

 private:
  static constexpr uint64_t kOffline = 0;
  std::atomic<uint64_t> epoch_{1};
  std::mutex mu_;
  std::vector<std::shared_ptr<std::atomic<uint64_t>>> readers_;
};

}  // namespace vnet
