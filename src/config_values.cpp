#include "config_values.hpp"

#include "api/run_options_request.hpp"

#include <algorithm>

namespace cas::config_values {

SetResult parse_non_empty(std::string_view text, std::string& out) {
    if (text.empty()) {
        return "must not be empty";
    }
    out = text;
    return std::nullopt;
}

SetResult parse_positive_double(std::string_view text, double max, double& out) {
    double value = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end || !(value > 0) || value > max) {
        return fmt::format("must be a number greater than 0 and at most {}, got '{}'", max, text);
    }
    out = value;
    return std::nullopt;
}

SetResult parse_list(std::string_view text, std::vector<std::string>& out) {
    std::vector<std::string> items;
    while (!text.empty()) {
        auto comma = text.find(',');
        auto item = text.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (!item.empty()) items.emplace_back(item);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    }
    if (items.empty()) return "must list at least one name, separated by commas";
    out = std::move(items);
    return std::nullopt;
}

SetResult parse_duration(std::string_view text, std::chrono::seconds& out) {
    std::int64_t unit = 1;
    auto number = text;
    if (!text.empty()) {
        switch (text.back()) {
            case 'd': unit = 86400; break;
            case 'h': unit = 3600; break;
            case 'm': unit = 60; break;
            case 's': unit = 1; break;
            default: unit = 0; break;
        }
        if (unit != 0) number.remove_suffix(1);
        if (unit == 0) unit = 1;
    }
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    constexpr std::int64_t kMax = 100LL * 365 * 86400;
    if (number.empty() || ec != std::errc{} || ptr != number.data() + number.size() || value < 1 ||
        value > kMax / unit) {
        return fmt::format("must be a duration like 30d, 12h, 90m or 3600 (seconds), got '{}'",
                           text);
    }
    out = std::chrono::seconds(value * unit);
    return std::nullopt;
}

SetResult parse_grace(std::string_view text, std::chrono::milliseconds& out) {
    std::int64_t scale = 1000;
    auto number = text;
    if (number.ends_with("ms")) {
        scale = 1;
        number.remove_suffix(2);
    } else if (number.ends_with('s')) {
        number.remove_suffix(1);
    }
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || ec != std::errc{} || ptr != number.data() + number.size() || value < 0 ||
        value > 86400LL * 1000 / scale) {
        return fmt::format("must be a duration like 30s, 500ms or 30 (seconds), got '{}'", text);
    }
    out = std::chrono::milliseconds(value * scale);
    return std::nullopt;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
    return out;
}

SetResult parse_optional_list(std::string_view text, std::vector<std::string>& out) {
    if (text.find_first_not_of(' ') == std::string_view::npos) {
        out.clear();
        return std::nullopt;
    }
    return parse_list(text, out);
}

SetResult parse_run_option_names(std::string_view text, std::vector<std::string>& out) {
    std::vector<std::string> names;
    if (text == "none") {
        out.clear();
        return std::nullopt;
    }
    if (auto problem = parse_list(text, names)) return problem;
    for (const auto& name : names) {
        if (std::find(std::begin(api::kRunOptionNames), std::end(api::kRunOptionNames), name) ==
            std::end(api::kRunOptionNames)) {
            std::vector<std::string> known(std::begin(api::kRunOptionNames),
                                           std::end(api::kRunOptionNames));
            return fmt::format("'{}' is not a run option (known: {}, or none)", name, join(known));
        }
    }
    out = std::move(names);
    return std::nullopt;
}

SetResult parse_tool_list(std::string_view text, std::vector<std::string>& out) {
    std::vector<std::string> tools;
    if (auto problem = parse_optional_list(text, tools)) return problem;
    for (const auto& tool : tools) {
        if (auto problem = api::tool_pattern_problem(tool)) {
            return fmt::format("'{}': {}", tool, *problem);
        }
    }
    out = std::move(tools);
    return std::nullopt;
}

}  // namespace cas::config_values
