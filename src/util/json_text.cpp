// Written by hand rather than around boost::json::serializer, which has no hook for numbers.
// Recursive: the values written are the service's own or were parsed within kMaxJsonDepth.
#include "util/json_text.hpp"

#include <boost/json.hpp>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <array>
#include <bit>
#include <charconv>
#include <cmath>

namespace cas {
namespace json = boost::json;
namespace {

// Per byte, what Boost.JSON's serializer writes after a backslash: 'u' for \u00XX, a letter
// for the short escapes, 0 for a byte written as is (every byte from 0x20 up, 0x7f and
// non-ASCII included, but '"' and '\\').
constexpr std::array<char, 256> kEscape = [] {
    std::array<char, 256> table{};
    for (std::size_t c = 0; c < 0x20; ++c) table[c] = 'u';
    table['\b'] = 'b';
    table['\t'] = 't';
    table['\n'] = 'n';
    table['\f'] = 'f';
    table['\r'] = 'r';
    table['"'] = '"';
    table['\\'] = '\\';
    return table;
}();

// The first byte from `p` on that needs an escape, or `end`. Sixteen bytes at a time with
// SSE2 (every x86-64 has it), as Boost.JSON's serializer does: prompts and outputs are long
// and mostly plain, and a byte at a time made a typical record 1.4 times slower to write.
const char* skip_plain(const char* p, const char* const end) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i last_control = _mm_set1_epi8(0x1f);
    while (end - p >= 16) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        // A control byte is one that min(byte, 0x1f) leaves unchanged (unsigned).
        const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(bytes, last_control), bytes);
        const __m128i hits = _mm_or_si128(
            control, _mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)));
        const auto mask = static_cast<unsigned>(_mm_movemask_epi8(hits));
        if (mask != 0) return p + std::countr_zero(mask);
        p += 16;
    }
#endif
    while (p != end && kEscape[static_cast<unsigned char>(*p)] == 0) ++p;
    return p;
}

void append_quoted(std::string& out, std::string_view text) {
    static constexpr std::string_view kHex = "0123456789abcdef";
    out.reserve(out.size() + text.size() + 2);
    out += '"';
    const char* const end = text.data() + text.size();
    const char* run = text.data();
    for (;;) {
        const char* const p = skip_plain(run, end);
        out.append(run, static_cast<std::size_t>(p - run));
        if (p == end) break;
        const auto byte = static_cast<unsigned char>(*p);
        const char escape = kEscape[byte];
        if (escape == 'u') {
            const std::array<char, 6> seq{'\\', 'u', '0', '0', kHex[byte >> 4U], kHex[byte & 15U]};
            out.append(seq.data(), seq.size());
        } else {
            out += '\\';
            out += escape;
        }
        run = p + 1;
    }
    out += '"';
}

template <class Integer>
void append_integer(std::string& out, Integer number) {
    std::array<char, 24> buffer{};
    auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), number);
    out.append(buffer.data(), static_cast<std::size_t>(end - buffer.data()));
}

void append_double(std::string& out, double number) {
    if (!std::isfinite(number)) {
        out += "null";
        return;
    }
    // The shortest digits that read back as `number`, as d.ddde±XX; both notations are laid
    // out from them, so plain decimals show no more digits than the exponent form would.
    std::array<char, 32> buffer{};
    auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), number,
                                   std::chars_format::scientific);
    const std::string_view scientific(buffer.data(), end);
    const auto e = scientific.find('e');
    int exponent = 0;
    std::from_chars(scientific.data() + e + 2, end, exponent);
    if (scientific[e + 1] == '-') exponent = -exponent;
    if (exponent < -7 || exponent >= 21) {
        out += scientific;
        return;
    }
    auto mantissa = scientific.substr(0, e);
    if (mantissa.front() == '-') {
        out += '-';
        mantissa.remove_prefix(1);
    }
    const char lead = mantissa.front();
    const auto fraction = mantissa.size() > 2 ? mantissa.substr(2) : std::string_view{};
    if (exponent < 0) {
        out += "0.";
        out.append(static_cast<std::size_t>(-exponent - 1), '0');
        out += lead;
        out += fraction;
        return;
    }
    const auto whole = static_cast<std::size_t>(exponent);  // digits after the lead one
    out += lead;
    if (fraction.size() <= whole) {
        out += fraction;
        out.append(whole - fraction.size(), '0');
        out += ".0";
    } else {
        out += fraction.substr(0, whole);
        out += '.';
        out += fraction.substr(whole);
    }
}

// Enough for a log line or an error body in one allocation (growing from empty took four).
constexpr std::size_t kFirstReserve = 512;

void append_value(std::string& out, const json::value& value);

void append_object(std::string& out, const json::object& object) {
    out += '{';
    bool first = true;
    for (const auto& item : object) {
        if (!first) out += ',';
        first = false;
        append_quoted(out, item.key());
        out += ':';
        append_value(out, item.value());
    }
    out += '}';
}

void append_array(std::string& out, const json::array& array) {
    out += '[';
    bool first = true;
    for (const auto& item : array) {
        if (!first) out += ',';
        first = false;
        append_value(out, item);
    }
    out += ']';
}

void append_value(std::string& out, const json::value& value) {
    switch (value.kind()) {
        case json::kind::null: out += "null"; return;
        case json::kind::bool_: out += value.get_bool() ? "true" : "false"; return;
        case json::kind::int64: append_integer(out, value.get_int64()); return;
        case json::kind::uint64: append_integer(out, value.get_uint64()); return;
        case json::kind::double_: append_double(out, value.get_double()); return;
        case json::kind::string: append_quoted(out, value.get_string()); return;
        case json::kind::array: append_array(out, value.get_array()); return;
        case json::kind::object: append_object(out, value.get_object()); return;
    }
}

}  // namespace

std::string json_text(const json::value& value) {
    std::string out;
    out.reserve(kFirstReserve);
    append_value(out, value);
    return out;
}

std::string json_text(const json::object& object) {
    std::string out;
    out.reserve(kFirstReserve);
    append_object(out, object);
    return out;
}

std::string json_text(const json::array& array) {
    std::string out;
    out.reserve(kFirstReserve);
    append_array(out, array);
    return out;
}

void append_json_text(std::string& out, const json::value& value) {
    append_value(out, value);
}

void append_json_text(std::string& out, const json::object& object) {
    append_object(out, object);
}

void append_json_text(std::string& out, const json::array& array) {
    append_array(out, array);
}

std::string json_quoted(std::string_view text) {
    std::string out;
    append_quoted(out, text);
    return out;
}

void append_json_quoted(std::string& out, std::string_view text) {
    append_quoted(out, text);
}

void append_json_number(std::string& out, double number) {
    append_double(out, number);
}

void append_json_number(std::string& out, std::int64_t number) {
    append_integer(out, number);
}

void append_json_number(std::string& out, std::uint64_t number) {
    append_integer(out, number);
}

}  // namespace cas
