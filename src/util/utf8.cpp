// A strict decoder (no overlongs, no surrogates, nothing above U+10FFFF), as RFC 3629.
#include "util/utf8.hpp"

namespace cas {
namespace {

// Length of the valid sequence at `i`, or 0 if it is invalid.
std::size_t sequence_length(std::string_view s, std::size_t i) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = byte(i);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
    }
    return n;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        auto n = sequence_length(text, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string ensure_valid_utf8(std::string text) {
    if (is_valid_utf8(text)) return text;
    return to_valid_utf8(std::string_view(text));
}

std::string to_valid_utf8(std::string_view text) {
    // One pass, copying each run of valid bytes at once (this repairs up to MAX_OUTPUT_BYTES
    // of CLI output per run).
    std::string out;
    std::size_t copied = 0;  // text before this is in `out`
    for (std::size_t i = 0; i < text.size();) {
        if (auto n = sequence_length(text, i); n > 0) {
            i += n;
            continue;
        }
        if (copied == 0) out.reserve(text.size() + 16);
        out.append(text.substr(copied, i - copied));
        out += "\xEF\xBF\xBD";
        copied = ++i;
    }
    if (copied == 0) return std::string(text);
    out.append(text.substr(copied));
    return out;
}

}  // namespace cas
