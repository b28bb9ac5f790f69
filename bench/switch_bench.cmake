# Switch / poll-thread benchmarks (include from bench/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/switch_bench.cmake)
# Run: build/release/bin/switch_bench
add_executable(switch_bench ${CMAKE_CURRENT_LIST_DIR}/switch_bench.cc)
target_link_libraries(switch_bench PRIVATE vnet_switch vnet_dataplane benchmark::benchmark)
target_include_directories(switch_bench PRIVATE ${CMAKE_SOURCE_DIR}/tests)
