# Strict warnings for our own targets. CAS_WERROR turns them into errors (the
# presets enable it, so CI fails on any warning).
option(CAS_WERROR "Treat compiler warnings as errors" OFF)

function(cas_set_warnings target)
  # -Wmismatched-new-delete: GCC 12 at -O2 misreads Asio's coroutine frame allocator
  # (awaitable_frame_base::operator new/delete are a matching pair); a known false positive.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion -Wnon-virtual-dtor
                                           -Wno-mismatched-new-delete)
  if(CAS_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
