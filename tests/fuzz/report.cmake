# libFuzzer target for the French report scrubber, built only with clang.
# Included from tests/fuzz/CMakeLists.txt (after its clang check):
#
#   include(${CMAKE_CURRENT_SOURCE_DIR}/report.cmake)
#
#   cmake --build build-fuzz --target fuzz_report
#   build-fuzz/tests/fuzz/fuzz_report -max_len=4096 -timeout=10 DIR
#
# DIR may be seeded with synthetic reports (anon_textgen). The scrubber's
# sources are compiled into the target so that libFuzzer's coverage
# instrumentation sees them.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  return()
endif()

add_executable(fuzz_report ${CMAKE_CURRENT_LIST_DIR}/fuzz_report.c
  ${RADFED_SRC_DIR}/anonymizer/anon_report.c
  ${RADFED_SRC_DIR}/anonymizer/anon_fr_words.c
  ${RADFED_SRC_DIR}/anonymizer/anon_pseudo.c)
target_include_directories(fuzz_report PRIVATE ${RADFED_SRC_DIR}/anonymizer)
target_compile_options(fuzz_report PRIVATE
  -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
target_link_options(fuzz_report PRIVATE
  -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
target_link_libraries(fuzz_report PRIVATE rf_common)
