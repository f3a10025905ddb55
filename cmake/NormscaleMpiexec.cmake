# The mpiexec flags a test needs for a given rank count, with the MPI found here.
#   normscale_mpiexec_flags(<flags-var> <skip-var> <ranks>)
# Open MPI refuses to run as root without --allow-run-as-root, and more ranks than slots without
# --oversubscribe; MPICH's mpiexec rejects both flags. So --allow-run-as-root is added only for Open
# MPI run as root, and --oversubscribe only for Open MPI when <ranks> exceeds the slots
# (MPIEXEC_MAX_NUMPROCS, FindMPI's core count) and NORMSCALE_MPI_OVERSUBSCRIBE allows it. Where the
# ranks cannot be started, <skip-var> says why (empty otherwise): the caller skips the test.
include_guard(GLOBAL)

option(NORMSCALE_MPI_OVERSUBSCRIBE
       "Let Open MPI start more ranks than slots (--oversubscribe) in tests that need it; OFF skips those tests"
       ON)
set(NORMSCALE_MPIEXEC_EXTRA_FLAGS "" CACHE STRING "Extra flags for mpiexec in every MPI test")
# "--oversubscribe" was this option's default before NORMSCALE_MPI_OVERSUBSCRIBE: a build folder
# configured then would still oversubscribe every test, and no too-few-slots skip could fire.
if(NORMSCALE_MPIEXEC_EXTRA_FLAGS STREQUAL "--oversubscribe")
  message(STATUS "normscale: NORMSCALE_MPIEXEC_EXTRA_FLAGS held the old default --oversubscribe; cleared "
                 "(NORMSCALE_MPI_OVERSUBSCRIBE now decides, test by test)")
  set_property(CACHE NORMSCALE_MPIEXEC_EXTRA_FLAGS PROPERTY VALUE "")
endif()

# Asked once per configure; functions and global properties are seen from every directory.
set(normscale_mpiexec_open_mpi FALSE)
if(MPIEXEC_EXECUTABLE)
  execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE normscale_mpiexec_version
                  ERROR_VARIABLE normscale_mpiexec_version TIMEOUT 60)
  if(normscale_mpiexec_version MATCHES "Open MPI|OpenRTE")
    set(normscale_mpiexec_open_mpi TRUE)
  endif()
  message(STATUS "normscale: ${MPIEXEC_EXECUTABLE} is Open MPI: ${normscale_mpiexec_open_mpi}; "
                 "slots: ${MPIEXEC_MAX_NUMPROCS}; oversubscribe allowed: ${NORMSCALE_MPI_OVERSUBSCRIBE}")
endif()
execute_process(COMMAND id -u OUTPUT_VARIABLE normscale_uid OUTPUT_STRIP_TRAILING_WHITESPACE)
set_property(GLOBAL PROPERTY NORMSCALE_MPIEXEC_OPEN_MPI ${normscale_mpiexec_open_mpi})
if(normscale_uid STREQUAL "0")
  set_property(GLOBAL PROPERTY NORMSCALE_MPIEXEC_AS_ROOT TRUE)
else()
  set_property(GLOBAL PROPERTY NORMSCALE_MPIEXEC_AS_ROOT FALSE)
endif()

function(normscale_mpiexec_flags flags_var skip_var ranks)
  get_property(open_mpi GLOBAL PROPERTY NORMSCALE_MPIEXEC_OPEN_MPI)
  get_property(as_root GLOBAL PROPERTY NORMSCALE_MPIEXEC_AS_ROOT)
  set(flags "")
  set(skip "")
  if(open_mpi AND as_root)
    list(APPEND flags --allow-run-as-root)
  endif()
  # A --oversubscribe the user put in the extra flags already lets every test start.
  if(MPIEXEC_MAX_NUMPROCS AND ranks GREATER MPIEXEC_MAX_NUMPROCS
     AND NOT "--oversubscribe" IN_LIST NORMSCALE_MPIEXEC_EXTRA_FLAGS)
    set(too_many "${ranks} ranks but only ${MPIEXEC_MAX_NUMPROCS} slots (MPIEXEC_MAX_NUMPROCS)")
    if(NOT open_mpi)
      set(skip "${too_many}, and ${MPIEXEC_EXECUTABLE} is not Open MPI (no --oversubscribe)")
    elseif(NOT NORMSCALE_MPI_OVERSUBSCRIBE)
      set(skip "${too_many}, and NORMSCALE_MPI_OVERSUBSCRIBE is OFF")
    else()
      list(APPEND flags --oversubscribe)
    endif()
  endif()
  list(APPEND flags ${NORMSCALE_MPIEXEC_EXTRA_FLAGS})
  set(${flags_var} "${flags}" PARENT_SCOPE)
  set(${skip_var} "${skip}" PARENT_SCOPE)
endfunction()
