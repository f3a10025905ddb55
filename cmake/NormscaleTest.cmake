# Test registration, in the manner of Ginkgo: one helper for one-process and MPI tests.
#   normscale_add_test(NAME name SOURCES ... [MPI_SIZES n...] [LABELS ...] [TIMEOUT s])
# An MPI test is one executable (linked with tests/mpi/mpi_test_main.cpp) registered once per size
# as <name>_np<n>, run under mpiexec with n ranks and labelled `mpi`; MPI_SIZE n is MPI_SIZES n.
# --oversubscribe lets 4 ranks run on 2 cores, and --allow-run-as-root is added when the tests run
# as root (CI containers do). Without an mpiexec the executable is built but not registered.
include(GoogleTest)

set(NORMSCALE_MPIEXEC_EXTRA_FLAGS "--oversubscribe" CACHE STRING "Extra flags for mpiexec in tests")
execute_process(COMMAND id -u OUTPUT_VARIABLE NORMSCALE_UID OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NORMSCALE_UID STREQUAL "0")
  list(APPEND NORMSCALE_MPIEXEC_EXTRA_FLAGS "--allow-run-as-root")
endif()

function(normscale_add_test)
  cmake_parse_arguments(T "" "NAME;MPI_SIZE;TIMEOUT" "SOURCES;LABELS;MPI_SIZES" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE normscale_lib GTest::gtest GTest::gmock)
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  # Tests that run the binary need it built first.
  add_dependencies(${T_NAME} normscale)
  list(JOIN NORMSCALE_MPIEXEC_EXTRA_FLAGS " " mpiexec_flags)
  target_compile_definitions(${T_NAME} PRIVATE NORMSCALE_TEST_DATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/data"
                             NORMSCALE_BINARY="$<TARGET_FILE:normscale>"
                             NORMSCALE_MPIEXEC="${MPIEXEC_EXECUTABLE} ${mpiexec_flags}")
  normscale_set_warnings(${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set(mpi_sizes ${T_MPI_SIZES} ${T_MPI_SIZE})
  if(mpi_sizes)
    target_sources(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests/mpi/mpi_test_main.cpp)
    if(NOT MPIEXEC_EXECUTABLE)
      message(WARNING "normscale: no mpiexec found (MPIEXEC_EXECUTABLE is empty); ${T_NAME} is built "
                      "but not registered with ctest at ${mpi_sizes} ranks")
      return()
    endif()
    set(labels mpi ${T_LABELS})
    list(REMOVE_DUPLICATES labels)
    foreach(np IN LISTS mpi_sizes)
      # Without --oversubscribe, Open MPI refuses more ranks than slots: skip rather than fail.
      if(MPIEXEC_MAX_NUMPROCS AND np GREATER MPIEXEC_MAX_NUMPROCS
         AND NOT "--oversubscribe" IN_LIST NORMSCALE_MPIEXEC_EXTRA_FLAGS)
        message(WARNING "normscale: ${T_NAME} at ${np} ranks skipped: only ${MPIEXEC_MAX_NUMPROCS} "
                        "slots and no --oversubscribe in NORMSCALE_MPIEXEC_EXTRA_FLAGS")
        continue()
      endif()
      add_test(NAME ${T_NAME}_np${np}
               COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np}
                       ${NORMSCALE_MPIEXEC_EXTRA_FLAGS} ${MPIEXEC_PREFLAGS} $<TARGET_FILE:${T_NAME}>
                       ${MPIEXEC_POSTFLAGS})
      set_tests_properties(${T_NAME}_np${np} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${labels}"
                           PROCESSORS ${np})
    endforeach()
  else()
    target_link_libraries(${T_NAME} PRIVATE GTest::gtest_main)
    gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT ${T_TIMEOUT}
                         LABELS "${T_LABELS}")
  endif()
endfunction()
