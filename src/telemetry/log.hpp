// Structured logging: one JSON object per line on stderr. Values are JSON-escaped, so
// bytes from the network (paths, ids) cannot forge lines. Secrets are never passed in.
#pragma once

#include <boost/json/object.hpp>

#include <string_view>

namespace cas::log {

enum class Level { debug, info, warn, error };

void set_min_level(Level level);
std::string_view name_of(Level level);

// Writes {"time", "level", "msg", ...fields} as one line, in one write.
void write(Level level, std::string_view message, boost::json::object fields = {});

// Life-cycle lines (listening, stopping, stopped) are written whatever LOG_LEVEL says:
// operators and supervisors wait for them.
void announce(std::string_view message, boost::json::object fields = {});

inline void info(std::string_view message, boost::json::object fields = {}) {
    write(Level::info, message, std::move(fields));
}
inline void warn(std::string_view message, boost::json::object fields = {}) {
    write(Level::warn, message, std::move(fields));
}
inline void error(std::string_view message, boost::json::object fields = {}) {
    write(Level::error, message, std::move(fields));
}

}  // namespace cas::log
