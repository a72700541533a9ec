// The one JSON writer of the service: every record, response body, SSE event and log line is
// written here. Its output is boost::json::serialize's (compact, keys in insertion order, the
// same string escaping, valid UTF-8 kept as is) except for doubles, which Boost.JSON 1.81
// writes as `5E0` and `1.23E-2`. Here a double is written in its shortest round-trip form,
// in plain decimals for 1e-7 <= |x| < 1e21 (the range where JavaScript does the same) and
// with `.0` when integral, so `5.0`, `0.0123`, `-0.0`, `100.0`, and readers such as Python's
// json module still see a float; outside that range `1e+21`, `1.5e-08`. A non-finite double
// is written as `null`: JSON has no spelling for it, and the service never stores one
// (util/json_limits.hpp).
#pragma once

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace cas {

std::string json_text(const boost::json::value& value);
std::string json_text(const boost::json::object& object);
std::string json_text(const boost::json::array& array);

// Appends to `out`, for building a larger text (an SSE frame) without a copy.
void append_json_text(std::string& out, const boost::json::value& value);
void append_json_text(std::string& out, const boost::json::object& object);
void append_json_text(std::string& out, const boost::json::array& array);

// `text` as a JSON string literal: quoted and escaped as json_text escapes strings.
std::string json_quoted(std::string_view text);
void append_json_quoted(std::string& out, std::string_view text);

// A number as json_text writes it (a double in the form described above).
void append_json_number(std::string& out, double number);
void append_json_number(std::string& out, std::int64_t number);
void append_json_number(std::string& out, std::uint64_t number);

}  // namespace cas
