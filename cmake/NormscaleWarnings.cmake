# Warnings on for our own targets only (never for third-party headers, which come in as SYSTEM).
#
# GCC 12 warns that the AVX-512 intrinsics Eigen inlines read an uninitialised value (GCC bug 105593: the
# intrinsics' own `_mm512_undefined_*` placeholders), hundreds of times per build on an AVX-512 -march=native
# build, where a real warning would go unseen. A `#pragma GCC diagnostic` around Eigen's headers would keep the
# warnings for our code, but GCC 12 drops pragmas from precompiled headers, so on GCC 12 both warnings are off;
# the sanitizer build's Clang (-Wall: -Wuninitialized, -Wsometimes-uninitialized) still checks our code.
set(NORMSCALE_GCC12_INTRINSICS_WARNINGS "")
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
   AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  set(NORMSCALE_GCC12_INTRINSICS_WARNINGS -Wno-maybe-uninitialized -Wno-uninitialized)
endif()

function(normscale_set_warnings target)
  # C++ only: nvcc, which builds a target's .cu files, takes none of these.
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow
                         -Wnon-virtual-dtor -Wno-deprecated-declarations ${NORMSCALE_GCC12_INTRINSICS_WARNINGS}>)
endfunction()
