// Wall-clock time in the forms the API, the job store and the logs write it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace cas {

std::int64_t unix_seconds();
std::int64_t unix_milliseconds();

// Now as ISO 8601 UTC with 3 or 6 fractional digits and the zone written as `zone`
// ("Z", or "+00:00" as Python's isoformat() does).
std::string iso8601_utc(int fraction_digits, std::string_view zone);
// The same for another time.
std::string iso8601_utc_at(std::chrono::system_clock::time_point when, int fraction_digits,
                           std::string_view zone);

}  // namespace cas
