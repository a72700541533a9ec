// JSON facts the fuzz targets need to tell a known bug from a new one.
#pragma once

#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace cas_fuzz {

// Nesting depth of a JSON value (a scalar is 0, {} or [] is 1).
inline std::size_t json_depth(const boost::json::value& v) {
    std::size_t inner = 0;
    if (const auto* obj = v.if_object()) {
        for (const auto& item : *obj) inner = std::max(inner, json_depth(item.value()));
        return inner + 1;
    }
    if (const auto* arr = v.if_array()) {
        for (const auto& item : *arr) inner = std::max(inner, json_depth(item));
        return inner + 1;
    }
    return 0;
}

// Whether a number in it is infinite: Boost.JSON 1.81 parses 1e400 as infinity and then
// serializes it as `Infinity`, which is not JSON.
inline bool json_has_infinity(const boost::json::value& v) {
    if (const auto* d = v.if_double()) return !std::isfinite(*d);
    if (const auto* obj = v.if_object()) {
        return std::any_of(obj->begin(), obj->end(),
                           [](const auto& item) { return json_has_infinity(item.value()); });
    }
    if (const auto* arr = v.if_array()) {
        return std::any_of(arr->begin(), arr->end(),
                           [](const auto& item) { return json_has_infinity(item); });
    }
    return false;
}

}  // namespace cas_fuzz
