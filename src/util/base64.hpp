// Base64 (RFC 4648, the standard alphabet with padding), for the webhook signing secrets and
// signatures (Standard Webhooks writes both so).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cas {

std::string base64_encode(std::string_view bytes);
// The bytes, or nothing when `text` is not canonical padded base64 (wrong length, a
// character outside the alphabet, padding in the middle, or stray bits in the last one).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace cas
