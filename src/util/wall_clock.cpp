#include "util/wall_clock.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>

namespace cas {

std::int64_t unix_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t unix_milliseconds() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string iso8601_utc(int fraction_digits, std::string_view zone) {
    return iso8601_utc_at(std::chrono::system_clock::now(), fraction_digits, zone);
}

std::string iso8601_utc_at(std::chrono::system_clock::time_point when, int fraction_digits,
                           std::string_view zone) {
    auto now = std::chrono::floor<std::chrono::microseconds>(when);
    auto seconds = std::chrono::floor<std::chrono::seconds>(now);
    auto micros = (now - seconds).count();
    if (fraction_digits == 3) return fmt::format("{:%FT%T}.{:03}{}", seconds, micros / 1000, zone);
    return fmt::format("{:%FT%T}.{:06}{}", seconds, micros, zone);
}

}  // namespace cas
