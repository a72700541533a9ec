// The value parsers of the option table (config.cpp): each validates one setting's text and
// stores it, or says what is wrong. Pure; unit-tested through parse_config.
#pragma once

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cas::config_values {

// An error message, or nothing when the value was accepted.
using SetResult = std::optional<std::string>;

template <class T>
SetResult parse_unsigned(std::string_view text, T min, T max, T& out) {
    std::uint64_t value = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end ||
        value < static_cast<std::uint64_t>(min) || value > static_cast<std::uint64_t>(max)) {
        return fmt::format("must be an integer from {} to {}, got '{}'", min, max, text);
    }
    out = static_cast<T>(value);
    return std::nullopt;
}

// A whole number of the duration's own unit (seconds, milliseconds) within [min, max].
template <class Duration>
SetResult parse_count(std::string_view text, typename Duration::rep min, typename Duration::rep max,
                      Duration& out) {
    typename Duration::rep count = 0;
    auto result = parse_unsigned(text, min, max, count);
    if (!result) out = Duration(count);
    return result;
}

SetResult parse_non_empty(std::string_view text, std::string& out);
SetResult parse_positive_double(std::string_view text, double max, double& out);
// Comma-separated names, at least one.
SetResult parse_list(std::string_view text, std::vector<std::string>& out);
// The same, or none (empty text).
SetResult parse_optional_list(std::string_view text, std::vector<std::string>& out);
// "30d", "12h", "90m", "45s" or plain seconds.
SetResult parse_duration(std::string_view text, std::chrono::seconds& out);
// "30s", "500ms" or plain seconds; 0 allowed.
SetResult parse_grace(std::string_view text, std::chrono::milliseconds& out);
// Run option names (api/run_options_request.hpp), or "none".
SetResult parse_run_option_names(std::string_view text, std::vector<std::string>& out);
// Tool names or CLI tool patterns, or none.
SetResult parse_tool_list(std::string_view text, std::vector<std::string>& out);
std::string join(const std::vector<std::string>& items);

}  // namespace cas::config_values
