# embed_text(<target> <file> <symbol>): compiles <file>'s text into <target> as
# `std::string_view cas::embedded::<symbol>()`. configure_file makes CMake re-run when the
# file changes, so the binary always serves the file as it is in the repository.
function(embed_text target file symbol)
  file(READ "${file}" CAS_EMBED_CONTENT)
  set(CAS_EMBED_SYMBOL "${symbol}")
  set(out "${CMAKE_CURRENT_BINARY_DIR}/embedded/${symbol}.cpp")
  configure_file("${PROJECT_SOURCE_DIR}/cmake/embedded.cpp.in" "${out}" @ONLY)
  target_sources(${target} PRIVATE "${out}")
endfunction()
