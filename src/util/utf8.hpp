// UTF-8 checks for bytes that came from outside (child output, request bodies): JSON we
// emit must be valid UTF-8 whatever the CLI printed.
#pragma once

#include <string>
#include <string_view>

namespace cas {

bool is_valid_utf8(std::string_view text);

// `text` with each invalid sequence replaced by U+FFFD.
std::string to_valid_utf8(std::string_view text);
// The same for a string we own: no copy when it is already valid (the usual case).
std::string ensure_valid_utf8(std::string text);

}  // namespace cas
