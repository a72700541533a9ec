// The log sink: one fwrite per line, so a line reaches stderr whole and never interleaved
// with a partial one.
#include "telemetry/log.hpp"

#include "util/json_text.hpp"
#include "util/utf8.hpp"
#include "util/wall_clock.hpp"

#include <atomic>
#include <cstdio>

namespace cas::log {
namespace {

std::atomic<Level> min_level{Level::info};

}  // namespace

std::string_view name_of(Level level) {
    switch (level) {
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warn: return "warn";
        case Level::error: return "error";
    }
    return "info";
}

void set_min_level(Level level) {
    min_level.store(level);
}

namespace {

void emit(Level level, std::string_view message, boost::json::object fields) {
    boost::json::object line;
    line.reserve(fields.size() + 3);
    line["time"] = iso8601_utc(3, "Z");
    line["level"] = name_of(level);
    line["msg"] = message;
    for (auto& field : fields) line[field.key()] = std::move(field.value());
    // Fields may carry bytes from the network (a request target): keep every line UTF-8.
    // json_text, so a duration reads 0.73 rather than 7.3E-1.
    auto text = ensure_valid_utf8(json_text(line));
    text += '\n';
    (void)std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace

void write(Level level, std::string_view message, boost::json::object fields) {
    if (level < min_level.load()) return;
    emit(level, message, std::move(fields));
}

void announce(std::string_view message, boost::json::object fields) {
    emit(Level::info, message, std::move(fields));
}

}  // namespace cas::log
