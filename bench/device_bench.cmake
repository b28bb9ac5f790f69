# Device engine benchmarks (include from bench/CMakeLists.txt):
#  device_bench      Google Benchmark: forwarding thread + guest thread, ns/packet at 64/1518 B
#  device_callgrind  single-threaded loop for callgrind (bench/device_callgrind.sh)
add_executable(device_bench ${CMAKE_CURRENT_LIST_DIR}/device_bench.cc)
target_link_libraries(device_bench PRIVATE vnet_device benchmark::benchmark)
target_include_directories(device_bench PRIVATE ${CMAKE_SOURCE_DIR}/tests ${CMAKE_CURRENT_LIST_DIR})
add_executable(device_callgrind ${CMAKE_CURRENT_LIST_DIR}/device_callgrind.cc)
target_link_libraries(device_callgrind PRIVATE vnet_device)
target_include_directories(device_callgrind PRIVATE ${CMAKE_SOURCE_DIR}/tests ${CMAKE_CURRENT_LIST_DIR})
target_compile_features(device_bench PRIVATE cxx_std_20)
target_compile_features(device_callgrind PRIVATE cxx_std_20)
