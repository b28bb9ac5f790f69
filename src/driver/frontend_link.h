// BackendLink over a real vhost-user socket: forwards each call to vhost_user::Frontend.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "driver/backend_link.h"
#include "vhost_user/frontend.h"

namespace vnet::driver {

class FrontendLink final : public BackendLink {
 public:
  static Result<std::unique_ptr<FrontendLink>> connect(const std::string& path, std::chrono::milliseconds timeout);
  static Result<std::unique_ptr<FrontendLink>> accept_one(const std::string& path, std::chrono::milliseconds timeout);

  Result<uint64_t> get_features() override;
  Status set_features(uint64_t features) override { return fe_.set_features(features); }
  Result<uint64_t> get_protocol_features() override { return fe_.get_protocol_features(); }
  Status set_protocol_features(uint64_t f) override { return fe_.set_protocol_features(f); }
  Result<uint64_t> get_queue_num() override { return fe_.get_queue_num(); }
  Status set_owner() override { return fe_.set_owner(); }
  Status set_mem_table(std::span<const MemRegionDesc> regions) override;
  Status net_set_mtu(uint16_t mtu) override { return fe_.net_set_mtu(mtu); }
  Status set_vring_num(uint32_t i, uint32_t num) override;
  Status set_vring_base(uint32_t i, uint32_t base) override;
  Status set_vring_addr(uint32_t i, uint64_t desc, uint64_t used, uint64_t avail) override;
  Status set_vring_kick(uint32_t i, int fd) override { return fe_.set_vring_kick(static_cast<uint16_t>(i), fd); }
  Status set_vring_call(uint32_t i, int fd) override { return fe_.set_vring_call(static_cast<uint16_t>(i), fd); }
  Status set_vring_enable(uint32_t i, bool on) override { return fe_.set_vring_enable(static_cast<uint16_t>(i), on); }
  Result<uint32_t> get_vring_base(uint32_t i) override;
  int socket_fd() const override { return fe_.socket_fd(); }

  // Protocol features this front-end can ack (the driver masks its wish list with them).
  static constexpr uint64_t kSupportedProtocolFeatures = vhost_user::Frontend::kSupportedProtocolFeatures;

 private:
  explicit FrontendLink(vhost_user::Frontend fe) : fe_(std::move(fe)) {}
  vhost_user::Frontend fe_;
};

}  // namespace vnet::driver
