# tap port library (vnet_port_tap): TAP devices through /dev/net/tun (see tap_port.h).
add_library(vnet_port_tap STATIC
  ${CMAKE_CURRENT_LIST_DIR}/tap_device.cc
  ${CMAKE_CURRENT_LIST_DIR}/tap_frame_iov.cc
  ${CMAKE_CURRENT_LIST_DIR}/tap_port.cc
  ${CMAKE_CURRENT_LIST_DIR}/tap_stats.cc)
target_link_libraries(vnet_port_tap PUBLIC vnet_offload vnet_mem vnet_base)
