# embed_text(<target> <file> <symbol>): compiles <file>'s text into <target> as
# `std::string_view cas::embedded::<symbol>()`. CMake re-runs when the file changes
# (CMAKE_CONFIGURE_DEPENDS; file(READ) alone would not), so the binary always serves the
# file as it is in the repository.
function(embed_text target file symbol)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${file}")
  file(READ "${file}" CAS_EMBED_CONTENT)
  set(CAS_EMBED_SYMBOL "${symbol}")
  set(out "${CMAKE_CURRENT_BINARY_DIR}/embedded/${symbol}.cpp")
  configure_file("${PROJECT_SOURCE_DIR}/cmake/embedded.cpp.in" "${out}" @ONLY)
  target_sources(${target} PRIVATE "${out}")
endfunction()
