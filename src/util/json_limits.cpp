#include "util/json_limits.hpp"

#include <boost/json.hpp>

#include <cmath>

namespace cas {
namespace json = boost::json;

json::value parse_json(std::string_view text, boost::system::error_code& ec) {
    json::parse_options options;
    // Records are stored with one more level around what a request body may hold.
    options.max_depth = kMaxJsonDepth + 4;
    return json::parse(text, ec, {}, options);
}

bool all_finite(const json::value& value) {
    if (value.is_double()) return std::isfinite(value.get_double());
    if (const auto* array = value.if_array()) {
        for (const auto& item : *array) {
            if (!all_finite(item)) return false;
        }
    }
    if (const auto* object = value.if_object()) {
        for (const auto& item : *object) {
            if (!all_finite(item.value())) return false;
        }
    }
    return true;
}

void null_non_finite(json::value& value) {
    if (value.is_double() && !std::isfinite(value.get_double())) {
        value = nullptr;
    } else if (auto* array = value.if_array()) {
        for (auto& item : *array) null_non_finite(item);
    } else if (auto* object = value.if_object()) {
        for (auto& item : *object) null_non_finite(item.value());
    }
}

}  // namespace cas
