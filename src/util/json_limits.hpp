// The JSON rules every stored or relayed value keeps, whoever wrote it (a client, the CLI):
// nesting within kMaxJsonDepth (what request bodies may have, and what stored records are
// read back with), and only finite numbers (Boost.JSON 1.81 reads 1e400 as infinity and
// writes it as `Infinity`, which no JSON parser reads back).
#pragma once

#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include <string_view>

namespace cas {

inline constexpr unsigned kMaxJsonDepth = 64;

// Parses with kMaxJsonDepth; `ec` set on failure.
boost::json::value parse_json(std::string_view text, boost::system::error_code& ec);

// True if every number in `value` is finite.
bool all_finite(const boost::json::value& value);

// Replaces every non-finite number in `value` with null.
void null_non_finite(boost::json::value& value);

}  // namespace cas
