# Strict warnings for our own targets. CAS_WERROR turns them into errors (the
# presets enable it, so CI fails on any warning).
option(CAS_WERROR "Treat compiler warnings as errors" OFF)

function(cas_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion -Wnon-virtual-dtor)
  if(CAS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
