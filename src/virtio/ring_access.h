// Loads and stores of the 16-bit ring fields (idx, flags, event indexes) shared with the other
// side. Each call names its memory order; the callers say why they need it.
#pragma once

#include <atomic>
#include <cstdint>

namespace vnet::virtio {

inline uint16_t load_u16(uint8_t* p, std::memory_order mo) {
  return std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(p)).load(mo);
}
inline void store_u16(uint8_t* p, uint16_t v, std::memory_order mo) {
  std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(p)).store(v, mo);
}

}  // namespace vnet::virtio
