// The log sink. A single fwrite per line keeps lines whole even if another thread
// (the job store's, later) logs at the same time.
#include "log.hpp"

#include "utf8.hpp"
#include "wall_clock.hpp"

#include <boost/json/serialize.hpp>

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
    auto text = ensure_valid_utf8(boost::json::serialize(line));
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
