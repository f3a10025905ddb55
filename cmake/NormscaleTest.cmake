# Test registration, in the manner of Ginkgo: one helper for one-process and MPI tests.
#   normscale_add_test(NAME name SOURCES ... [UNITY] [MPI_SIZES n...] [LABELS ...] [TIMEOUT s] [RESOURCE_LOCK r]
#                      [COST c])
#   normscale_add_test_batches(PREFIX prefix SOURCES ... [LABELS ...])
# An MPI test is one executable (linked with the shared main, tests/mpi/mpi_test_main.cpp, compiled
# once) registered once per size as <name>_np<n>, run under mpiexec with n ranks and labelled `mpi`;
# MPI_SIZE n is MPI_SIZES n. The mpiexec flags come from NormscaleMpiexec.cmake: a size that needs
# more slots than the machine has and may not oversubscribe is not registered, with a warning.
# Without an mpiexec the executable is built but not registered.
# UNITY compiles the sources as one translation unit (CMake's unity build), and normscale_add_test_batches makes
# executables <prefix>_1, <prefix>_2, ... of eight sources each, so built: each test file alone costs ~2.4 s of fixed
# work on this project's 2-core machines (the 265 MB precompiled header, GoogleTest's and Eigen's templates
# instantiated again), and eight files together compiled 2.6x faster than one by one (14 s against 36 s,
# 2026-12-06). Eight to an executable, not a suite: every test's process registers all of its executable's tests,
# which under AddressSanitizer cost ~0.13 s more per test with the 56 unit files in one (0.28 s against 0.15).
# The files of one batch share a translation unit: helpers in their anonymous namespaces must not share a name
# (shared ones belong in tests/support/). For each source file test_X.cpp the caller's variable
# NORMSCALE_TEST_TARGET_test_X names the executable that holds it.
include(GoogleTest)
include(NormscaleMpiexec)

# NORMSCALE_MPIEXEC, the mpiexec command line that tests (tests/launch) start the binary with: its
# flags are those of the most ranks such a test starts.
set(NORMSCALE_TEST_MAX_RANKS 4)
normscale_mpiexec_flags(normscale_test_mpiexec_flags normscale_test_mpiexec_skip ${NORMSCALE_TEST_MAX_RANKS})
if(MPIEXEC_EXECUTABLE AND normscale_test_mpiexec_skip)
  message(WARNING "normscale: tests that start the binary under mpiexec with ${NORMSCALE_TEST_MAX_RANKS} "
                  "ranks (tests/launch) will fail: ${normscale_test_mpiexec_skip}")
endif()
list(JOIN normscale_test_mpiexec_flags " " normscale_test_mpiexec_flags)

# Adds executable `target` to the build target normscale_tests_<label> of each label, so that one suite can be
# built without the rest (launch/test.sh's sanitizer stage builds only what it runs).
function(normscale_add_to_suites target)
  foreach(label IN LISTS ARGN)
    if(NOT TARGET normscale_tests_${label})
      add_custom_target(normscale_tests_${label})
    endif()
    add_dependencies(normscale_tests_${label} ${target})
  endforeach()
endfunction()

# What every test's own code is compiled with: the same for each test, so that all of them can share one
# precompiled header (normscale_test_pch). The tests' code is built at -O1: what they run hot is the library's
# (built as configured); their own code is setup and checks. At -O3 the test files were half of the main build's
# compile time on 2 cores (819 of ~1,600 CPU seconds; 623 at -O1 with the shared header, 2026-12-04).
function(normscale_test_compile_settings target)
  target_link_libraries(${target} PRIVATE normscale_lib GTest::gtest GTest::gmock)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${target} PRIVATE NORMSCALE_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data"
                             NORMSCALE_BINARY="$<TARGET_FILE:normscale>"
                             NORMSCALE_MPIEXEC="${MPIEXEC_EXECUTABLE} ${normscale_test_mpiexec_flags}")
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-O1>)
  normscale_set_warnings(${target})
endfunction()

# The headers nearly every test parses (GoogleTest, Eigen, JSON, fmt, MPI, the standard library), compiled
# once and reused by every test (REUSE_FROM). Our own headers stay out, so that a change to one rebuilds only
# the tests that include it. And the tests' support code compiled once (tests/support/*.cpp: Eigen's
# decompositions for reference answers), linked into every test.
if(NOT TARGET normscale_test_pch)
  file(WRITE ${PROJECT_BINARY_DIR}/normscale_test_pch.cpp "// The owner of the tests' precompiled header.\n")
  add_library(normscale_test_pch OBJECT ${PROJECT_BINARY_DIR}/normscale_test_pch.cpp)
  normscale_test_compile_settings(normscale_test_pch)
  target_precompile_headers(normscale_test_pch PRIVATE <gtest/gtest.h> <gmock/gmock.h> <Eigen/Core>
                            <nlohmann/json.hpp> <fmt/format.h> <mpi.h> <algorithm> <chrono> <cmath> <cstdint>
                            <filesystem> <fstream> <functional> <map> <memory> <optional> <set> <span> <sstream>
                            <string> <thread> <vector>)
  file(GLOB NORMSCALE_TEST_SUPPORT_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/support/*.cpp)
  add_library(normscale_test_support STATIC ${NORMSCALE_TEST_SUPPORT_SOURCES})
  normscale_test_compile_settings(normscale_test_support)
  target_precompile_headers(normscale_test_support REUSE_FROM normscale_test_pch)
endif()

function(normscale_add_test)
  cmake_parse_arguments(T "UNITY" "NAME;MPI_SIZE;TIMEOUT;RESOURCE_LOCK;COST" "SOURCES;LABELS;MPI_SIZES" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  if(T_UNITY)
    set_target_properties(${T_NAME} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8)
  endif()
  normscale_test_compile_settings(${T_NAME})
  target_precompile_headers(${T_NAME} REUSE_FROM normscale_test_pch)
  target_link_libraries(${T_NAME} PRIVATE normscale_test_support)
  # Tests that run the binary need it built first.
  add_dependencies(${T_NAME} normscale)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set(mpi_sizes ${T_MPI_SIZES} ${T_MPI_SIZE})
  if(mpi_sizes)
    # Compiled once for every MPI test: each then costs only its own file and a link.
    if(NOT TARGET normscale_mpi_test_main)
      add_library(normscale_mpi_test_main OBJECT ${PROJECT_SOURCE_DIR}/tests/mpi/mpi_test_main.cpp)
      target_link_libraries(normscale_mpi_test_main PRIVATE MPI::MPI_CXX GTest::gtest)
      normscale_set_warnings(normscale_mpi_test_main)
    endif()
    target_link_libraries(${T_NAME} PRIVATE normscale_mpi_test_main)
    if(NOT MPIEXEC_EXECUTABLE)
      message(WARNING "normscale: no mpiexec found (MPIEXEC_EXECUTABLE is empty); ${T_NAME} is built "
                      "but not registered with ctest at ${mpi_sizes} ranks")
      return()
    endif()
    set(labels mpi ${T_LABELS})
    list(REMOVE_DUPLICATES labels)
    normscale_add_to_suites(${T_NAME} ${labels})
    foreach(np IN LISTS mpi_sizes)
      normscale_mpiexec_flags(mpiexec_flags skip ${np})
      if(skip)
        message(WARNING "normscale: test ${T_NAME}_np${np} not registered: ${skip}")
        continue()
      endif()
      add_test(NAME ${T_NAME}_np${np}
               COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} ${mpiexec_flags}
                       ${MPIEXEC_PREFLAGS} $<TARGET_FILE:${T_NAME}> ${MPIEXEC_POSTFLAGS})
      set_tests_properties(${T_NAME}_np${np} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${labels}"
                           PROCESSORS ${np})
    endforeach()
  else()
    target_link_libraries(${T_NAME} PRIVATE GTest::gtest_main)
    normscale_add_to_suites(${T_NAME} ${T_LABELS})
    # RESOURCE_LOCK: tests that share something outside their own folders (one local SLURM's ports) never
    # run side by side under ctest -j.
    set(properties TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
    if(T_RESOURCE_LOCK)
      list(APPEND properties RESOURCE_LOCK ${T_RESOURCE_LOCK})
    endif()
    # COST: ctest -j starts costlier tests first (before it has timings of its own, as in CI).
    if(T_COST)
      list(APPEND properties COST ${T_COST})
    endif()
    gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES ${properties})
  endif()
endfunction()

function(normscale_add_test_batches)
  cmake_parse_arguments(T "" "PREFIX" "SOURCES;LABELS" ${ARGN})
  list(LENGTH T_SOURCES count)
  set(batch 0)
  set(targets)
  foreach(first RANGE 0 ${count} 8)
    if(first EQUAL count)
      break()
    endif()
    math(EXPR batch "${batch} + 1")
    list(SUBLIST T_SOURCES ${first} 8 group)
    normscale_add_test(NAME ${T_PREFIX}_${batch} SOURCES ${group} LABELS ${T_LABELS} UNITY)
    list(APPEND targets ${T_PREFIX}_${batch})
    foreach(source IN LISTS group)
      get_filename_component(stem ${source} NAME_WE)
      set(NORMSCALE_TEST_TARGET_${stem} ${T_PREFIX}_${batch} PARENT_SCOPE)
    endforeach()
  endforeach()
  set(${T_PREFIX}_TARGETS ${targets} PARENT_SCOPE)
endfunction()
