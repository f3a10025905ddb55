# Warnings on for our own targets only (never for third-party headers, which come in as SYSTEM).
function(normscale_set_warnings target)
  # C++ only: nvcc, which builds a target's .cu files, takes none of these.
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow
                         -Wnon-virtual-dtor -Wno-deprecated-declarations>)
endfunction()
