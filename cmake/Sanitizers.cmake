# ASan + UBSan for the whole build (the `asan` preset). Applied globally so the
# library, the binary and the tests agree on the runtime.
option(CAS_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)

if(CAS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  # Not position-independent: the sanitizers' metadata gives a PIE binary millions of
  # relative relocations (5.3 million in the unit tests), whose processing was half of each
  # process's start (every test, every service a test starts).
  add_compile_options(-fno-pie)
  add_link_options(-no-pie)
endif()
