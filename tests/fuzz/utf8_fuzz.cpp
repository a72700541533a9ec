// cas::is_valid_utf8 / cas::to_valid_utf8 against two independent judges: a decoder written
// differently (decode, then reject overlongs, surrogates and > U+10FFFF) and Boost.JSON's
// own validation of string contents. to_valid_utf8 must give valid UTF-8, leave valid text
// alone, replace each invalid byte with one U+FFFD (the documented policy), and be
// idempotent; and what it gives must survive a JSON round trip, as the service relies on.
#include "fuzz_check.hpp"
#include "util/json_text.hpp"
#include "util/utf8.hpp"

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the valid UTF-8 sequence at `i`, or 0.
std::size_t reference_length(std::string_view s, std::size_t i) {
    auto byte = [&](std::size_t k) {
        return static_cast<std::uint32_t>(static_cast<unsigned char>(s[k]));
    };
    std::uint32_t c = byte(i);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0U) == 0xC0U) {
        n = 2;
        cp = c & 0x1FU;
    } else if ((c & 0xF0U) == 0xE0U) {
        n = 3;
        cp = c & 0x0FU;
    } else if ((c & 0xF8U) == 0xF0U) {
        n = 4;
        cp = c & 0x07U;
    } else {
        return 0;
    }
    if (s.size() - i < n) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xC0U) != 0x80U) return 0;
        cp = (cp << 6U) | (byte(i + k) & 0x3FU);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

bool reference_valid(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        auto n = reference_length(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string reference_repair(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        auto n = reference_length(s, i);
        if (n == 0) {
            out += kReplacement;
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

// Boost.JSON checks UTF-8 in string contents; it also rejects raw control characters,
// quotes and backslashes, so only inputs without those are comparable.
bool json_comparable(std::string_view s) {
    for (char c : s) {
        auto b = static_cast<unsigned char>(c);
        if (b < 0x20 || c == '"' || c == '\\') return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    using cas_fuzz::escaped;

    bool valid = cas::is_valid_utf8(input);
    FUZZ_CHECK(valid == reference_valid(input),
               "is_valid_utf8 disagrees with the reference on: " + escaped(input));
    if (json_comparable(input)) {
        boost::system::error_code ec;
        std::string quoted = "\"" + std::string(input) + "\"";
        boost::json::parse(quoted, ec);
        FUZZ_CHECK(valid == !ec, "is_valid_utf8 disagrees with Boost.JSON on: " + escaped(input));
    }

    auto repaired = cas::to_valid_utf8(input);
    FUZZ_CHECK(cas::is_valid_utf8(repaired),
               "to_valid_utf8 gave invalid UTF-8 for: " + escaped(input));
    FUZZ_CHECK(repaired == reference_repair(input),
               "to_valid_utf8 differs from the reference for: " + escaped(input));
    if (valid) FUZZ_CHECK(repaired == input, "to_valid_utf8 changed valid text: " + escaped(input));
    FUZZ_CHECK(repaired.size() <= 3 * input.size(), "to_valid_utf8 grew more than 3x");
    FUZZ_CHECK(cas::to_valid_utf8(repaired) == repaired,
               "to_valid_utf8 is not idempotent on: " + escaped(input));

    // What the service does with CLI output: repair, then put it in a JSON string.
    auto text = cas::json_quoted(repaired);
    boost::system::error_code ec;
    auto back = boost::json::parse(text, ec);
    FUZZ_CHECK(!ec && back.is_string() && back.as_string() == repaired,
               "a repaired string does not survive a JSON round trip: " + escaped(input));
    return 0;
}
