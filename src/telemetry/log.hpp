// Structured logging: one JSON object per line on stderr. Values are JSON-escaped, so
// bytes from the network (paths, ids) cannot forge lines. Secrets are never passed in.
//
// Lines are batched: written at least every 50 ms, when 64 KiB are waiting, at exit, on a
// fatal signal, and at once from a warn or error line (which also writes every line before
// it). So a request costs no write of its own, and a kill -9 loses at most the last 50 ms
// of info lines, never a warning or an error.
#pragma once

#include <boost/json/object.hpp>

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

namespace cas::log {

enum class Level { debug, info, warn, error };

void set_min_level(Level level);
std::string_view name_of(Level level);

// One line built in place, without a JSON tree: {"time", "level", "msg", then each field in
// the order given}. Handed to the sink by write(); a line of a level below the minimum costs
// nothing. Built in a buffer of its thread: write one before starting the next.
class Line {
public:
    Line(Level level, std::string_view message);
    Line(const Line&) = delete;
    Line& operator=(const Line&) = delete;
    ~Line() = default;

    Line& field(std::string_view key, std::string_view value);
    Line& field(std::string_view key, const char* value) {
        return field(key, std::string_view(value));
    }
    Line& field(std::string_view key, double value);
    template <std::integral Integer>
    Line& field(std::string_view key, Integer value) {
        if constexpr (std::same_as<Integer, bool>) {
            return raw_field(key, value ? "true" : "false");
        } else if constexpr (std::signed_integral<Integer>) {
            return integer_field(key, static_cast<std::int64_t>(value));
        } else {
            return unsigned_field(key, static_cast<std::uint64_t>(value));
        }
    }
    Line& field(std::string_view key, const boost::json::value& value);

    void write();

private:
    friend void announce(std::string_view message, const boost::json::object& fields);
    // A life-cycle line: whatever the minimum level, and at once.
    struct Announcement {};
    Line(Announcement, std::string_view message);
    void start(std::string_view message);
    Line& raw_field(std::string_view key, std::string_view json);
    Line& integer_field(std::string_view key, std::int64_t value);
    Line& unsigned_field(std::string_view key, std::uint64_t value);
    // Writes `name` and the colon; false (nothing written) when the line is filtered out.
    bool begin_field(std::string_view name);

    std::string* text_;  // null when the level is filtered out
    Level level_;
    bool urgent_;
};

// Writes {"time", "level", "msg", ...fields} as one line.
void write(Level level, std::string_view message, const boost::json::object& fields = {});

// Life-cycle lines (listening, stopping, stopped) are written whatever LOG_LEVEL says, and at
// once: operators and supervisors wait for them.
void announce(std::string_view message, const boost::json::object& fields = {});

inline void info(std::string_view message, const boost::json::object& fields = {}) {
    write(Level::info, message, fields);
}
inline void warn(std::string_view message, const boost::json::object& fields = {}) {
    write(Level::warn, message, fields);
}
inline void error(std::string_view message, const boost::json::object& fields = {}) {
    write(Level::error, message, fields);
}

// Writes every waiting line now (before anything else is written to stderr directly).
void flush();

// On SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT, the waiting lines are written before the
// signal takes its course (the handler that was there before runs next: ASan's reports stay).
void flush_on_fatal_signals();

// Where lines go: stderr unless a test points the sink at another descriptor.
void set_output(int fd);

}  // namespace cas::log
