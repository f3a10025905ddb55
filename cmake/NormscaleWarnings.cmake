# Warnings on for our own targets only (never for third-party headers, which come in as SYSTEM).
function(normscale_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                         -Wno-deprecated-declarations)
endfunction()
