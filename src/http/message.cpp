// Lookups on the handler-facing request.
#include "http/message.hpp"

#include <boost/algorithm/string/predicate.hpp>

namespace cas::http {
namespace {

std::optional<std::string_view> find(const Fields& fields, std::string_view name,
                                     bool case_insensitive) {
    for (const auto& [key, value] : fields) {
        if (case_insensitive ? boost::algorithm::iequals(key, name) : key == name) {
            return value;
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const {
    return find(headers, name, true);
}

std::optional<std::string_view> Request::param(std::string_view name) const {
    return find(params, name, false);
}

std::optional<std::string_view> Request::query_param(std::string_view name) const {
    return find(query, name, false);
}

}  // namespace cas::http
