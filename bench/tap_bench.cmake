# tap_bench: TAP<->TAP through two TapPorts vs a Linux bridge, same run (see tap_bench.cc).
# Needs root; run: build/release/bin/tap_bench [seconds per iperf3 run, default 5].
# Builds the test harness sources directly so that it does not depend on VNET_TESTS.
add_executable(tap_bench
  ${CMAKE_CURRENT_LIST_DIR}/tap_bench.cc
  ${CMAKE_SOURCE_DIR}/tests/ports/tap_netns.cc
  ${CMAKE_SOURCE_DIR}/tests/ports/tap_test_frames.cc
  ${CMAKE_SOURCE_DIR}/tests/ports/tap_test_stream.cc
  ${CMAKE_SOURCE_DIR}/tests/ports/tap_test_switch.cc)
target_link_libraries(tap_bench PRIVATE vnet_port_tap nlohmann_json::nlohmann_json)
# src/ and C++20 come from the top-level CMakeLists already; stated here too so the file also
# works when included early (e.g. through CMAKE_PROJECT_INCLUDE for a standalone bench build).
target_include_directories(tap_bench PRIVATE ${CMAKE_SOURCE_DIR}/tests/ports ${CMAKE_SOURCE_DIR}/src)
target_compile_features(tap_bench PRIVATE cxx_std_20)
