# tap port tests. tap_frame_iov_test: pure unit test. tap_port_test: against the kernel in
# network namespaces (needs root, /dev/net/tun, ip netns, iperf3, busybox; fails loudly without).
vnet_test(tap_frame_iov_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/tap_frame_iov_test.cc
  LIBS vnet_port_tap LABELS "unit" TIMEOUT 60)

if(NOT VNET_FUZZ)
  add_library(vnet_tap_test_support STATIC
    ${CMAKE_CURRENT_LIST_DIR}/tap_netns.cc
    ${CMAKE_CURRENT_LIST_DIR}/tap_test_frames.cc
    ${CMAKE_CURRENT_LIST_DIR}/tap_test_stream.cc
    ${CMAKE_CURRENT_LIST_DIR}/tap_test_switch.cc)
  target_link_libraries(vnet_tap_test_support PUBLIC vnet_port_tap nlohmann_json::nlohmann_json)
  target_include_directories(vnet_tap_test_support PUBLIC ${CMAKE_CURRENT_LIST_DIR})
endif()
vnet_test(tap_port_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/tap_port_test.cc
  LIBS vnet_tap_test_support LABELS "integration;threaded" TIMEOUT 300)
