// BackendConnection: memory table requests (SET_MEM_TABLE, ADD/REM_MEM_REG, GET_MAX_MEM_SLOTS).
#include <algorithm>
#include <cstring>
#include <string>

#include "base/log.h"
#include "vhost_user/backend_checks.h"
#include "vhost_user/backend_connection.h"

namespace vnet::vhost_user {
namespace {

std::string str(uint64_t v) { return std::to_string(v); }

bool same_region(const MemoryRegion& a, const MemRegion& b) {
  return a.gpa == b.guest_phys_addr && a.size == b.memory_size && a.user_addr == b.userspace_addr;
}

}  // namespace

Status BackendConnection::install_table(std::shared_ptr<const MemoryTable> table, bool stop_running) {
  // Rings hold host pointers into the old table: stop them, publish the new table (the old
  // mappings go away only after every poll thread passed a quiescent point), re-translate and
  // start again from where they stopped.
  std::vector<uint16_t> was_running;
  if (stop_running) was_running = stop_all();
  memory_.replace(std::move(table));
  restart(was_running);
  try_start_all();
  return {};
}

Status BackendConnection::on_set_mem_table(Message& m) {
  auto h = m.as<MemTableHeader>();
  std::vector<RegionSpec> specs;
  for (uint32_t i = 0; i < h.nregions; ++i) {
    MemRegion r;
    std::memcpy(&r, m.payload.data() + sizeof(MemTableHeader) + i * sizeof(MemRegion), sizeof(r));
    if (auto s = check_region(r, m.fds[i].get(), i); !s) return s;
    specs.push_back(RegionSpec{m.fds[i].get(), r.mmap_offset, r.memory_size, r.guest_phys_addr, r.userspace_addr});
  }
  auto table = MemoryTable::map(specs);  // fds are closed by the caller after mapping
  if (!table) return table.error();
  for (const auto& r : table.value()->regions())
    log::debug("vhost-user {}: region gpa={:#x} size={:#x} va={:#x} offset={:#x}", name_, r.gpa, r.size, r.user_addr, r.mmap_offset);
  return install_table(std::move(table.value()), true);
}

Status BackendConnection::on_get_max_mem_slots(Message&) {
  pending_reply_ = make_message(Request::get_max_mem_slots, kBackendMaxMemSlots);
  return {};
}

Status BackendConnection::on_add_mem_reg(Message& m) {
  MemRegion r = m.as<SingleMemRegion>().region;
  std::vector<MemoryRegion> regions;
  if (auto cur = memory_.shared()) regions = cur->regions();
  // QEMU 7.2 sends ADD_MEM_REG once per queue pair: the same region again is a no-op.
  for (const auto& existing : regions)
    if (same_region(existing, r) && existing.mmap_offset == r.mmap_offset) return {};
  if (regions.size() >= kBackendMaxMemSlots) return Error("ADD_MEM_REG: all " + str(kBackendMaxMemSlots) + " memory slots are used");
  if (auto s = check_region(r, m.fds[0].get(), regions.size()); !s) return s;
  RegionSpec spec{m.fds[0].get(), r.mmap_offset, r.memory_size, r.guest_phys_addr, r.userspace_addr};
  auto one = MemoryTable::map(std::span<const RegionSpec>(&spec, 1));
  if (!one) return one.error();
  regions.push_back(one.value()->regions()[0]);
  auto table = MemoryTable::from_regions(std::move(regions));  // refuses overlaps
  if (!table) return Error("ADD_MEM_REG: " + table.error().message());
  // Existing mappings stay valid (shared with the new table): running rings keep running.
  return install_table(std::move(table.value()), false);
}

Status BackendConnection::on_rem_mem_reg(Message& m) {
  MemRegion r = m.as<SingleMemRegion>().region;
  std::vector<MemoryRegion> regions;
  if (auto cur = memory_.shared()) regions = cur->regions();
  auto it = std::find_if(regions.begin(), regions.end(), [&](const MemoryRegion& e) { return same_region(e, r); });
  // Removing a region that is not there is a no-op (QEMU 7.2 repeats it per queue pair).
  if (it == regions.end()) return {};
  regions.erase(it);
  std::shared_ptr<const MemoryTable> table;
  if (!regions.empty()) {
    auto t = MemoryTable::from_regions(std::move(regions));
    if (!t) return t.error();
    table = std::move(t.value());
  }
  return install_table(std::move(table), true);
}

}  // namespace vnet::vhost_user
