# offload_bench: software segmentation / checksum completion of a 64 KiB GSO frame vs memcpy of
# the same bytes, same run (see offload_bench.cc). Builds the test frame builder directly so
# that it does not depend on VNET_TESTS.
add_executable(offload_bench
  ${CMAKE_CURRENT_LIST_DIR}/offload_bench.cc
  ${CMAKE_SOURCE_DIR}/tests/offload/offload_test_frames.cc)
target_link_libraries(offload_bench PRIVATE vnet_offload benchmark::benchmark)
target_include_directories(offload_bench PRIVATE ${CMAKE_SOURCE_DIR}/tests/offload)
