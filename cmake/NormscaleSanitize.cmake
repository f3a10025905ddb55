# Sanitizer builds: NORMSCALE_SANITIZE puts AddressSanitizer + UndefinedBehaviorSanitizer on every target (use a
# build folder of its own), and normscale_sanitizer_options(lib) gives every executable linking `lib` the
# runtimes' default options (cmake/sanitizer_options.cpp.in), so tests need no environment set.
include_guard(GLOBAL)

option(NORMSCALE_SANITIZE "Build every target with -fsanitize=address,undefined (a separate build folder)" OFF)

function(normscale_sanitizer_options lib)
  if(NOT NORMSCALE_SANITIZE)
    return()
  endif()
  set(NORMSCALE_LSAN_SUPPRESSIONS ${PROJECT_SOURCE_DIR}/cmake/lsan_suppressions.txt)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/sanitizer_options.cpp.in ${PROJECT_BINARY_DIR}/sanitizer_options.cpp
                 @ONLY)
  # Executables only: the runtimes look the options up in the program, and a static library's object that
  # nothing references would never be linked in.
  target_sources(${lib} INTERFACE
                 $<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,EXECUTABLE>:${PROJECT_BINARY_DIR}/sanitizer_options.cpp>)
endfunction()

if(NOT NORMSCALE_SANITIZE)
  return()
endif()
# -fno-sanitize-recover: a UB report that only printed would pass ctest unnoticed. -gline-tables-only gives
# file:line in reports at a fraction of full debug info's compile and link time.
add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined>
                    $<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=undefined>
                    $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-gline-tables-only>)
else()
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-g1>)
endif()
add_link_options(-fsanitize=address,undefined)
message(STATUS "normscale: sanitizers on (address, undefined)")
