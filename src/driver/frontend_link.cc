#include "driver/frontend_link.h"

#include <vector>

namespace vnet::driver {

Result<std::unique_ptr<FrontendLink>> FrontendLink::connect(const std::string& path, std::chrono::milliseconds timeout) {
  auto fe = vhost_user::Frontend::connect(path, timeout);
  if (!fe) return fe.error();
  fe->set_reply_timeout(timeout);
  return std::unique_ptr<FrontendLink>(new FrontendLink(std::move(fe).value()));
}

Result<std::unique_ptr<FrontendLink>> FrontendLink::accept_one(const std::string& path, std::chrono::milliseconds timeout) {
  auto fe = vhost_user::Frontend::accept_one(path, timeout);
  if (!fe) return fe.error();
  fe->set_reply_timeout(timeout);
  return std::unique_ptr<FrontendLink>(new FrontendLink(std::move(fe).value()));
}

Result<uint64_t> FrontendLink::get_features() {
  auto f = fe_.get_features();
  if (!f) return f.error();
  return uint64_t{f.value()};
}

Status FrontendLink::set_mem_table(std::span<const MemRegionDesc> regions) {
  std::vector<RegionSpec> specs;
  specs.reserve(regions.size());
  for (const auto& r : regions)
    specs.push_back(RegionSpec{r.fd, r.mmap_offset, r.memory_size, r.guest_phys_addr, r.userspace_addr});
  return fe_.set_mem_table(specs);
}

Status FrontendLink::set_vring_num(uint32_t i, uint32_t num) {
  if (num > 32768) return Error("vring size " + std::to_string(num) + " too large");
  return fe_.set_vring_num(static_cast<uint16_t>(i), static_cast<uint16_t>(num));
}

Status FrontendLink::set_vring_base(uint32_t i, uint32_t base) {
  return fe_.set_vring_base(static_cast<uint16_t>(i), static_cast<uint16_t>(base));
}

Status FrontendLink::set_vring_addr(uint32_t i, uint64_t desc, uint64_t used, uint64_t avail) {
  vhost_user::VringAddresses a;
  a.desc = desc;
  a.used = used;
  a.avail = avail;
  return fe_.set_vring_addr(static_cast<uint16_t>(i), a);
}

Result<uint32_t> FrontendLink::get_vring_base(uint32_t i) {
  auto r = fe_.get_vring_base(static_cast<uint16_t>(i));
  if (!r) return r.error();
  return uint32_t{r.value()};
}

}  // namespace vnet::driver
