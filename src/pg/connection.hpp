// One PostgreSQL connection driven from the io_context: libpq in non-blocking mode, its
// socket in a stream_descriptor awaited for readiness, so a query never blocks the thread.
// One query in flight at a time (the pool hands a connection to one coroutine). A
// connection whose query was interrupted (a cancelled await) or whose socket failed is
// `broken` and must be dropped: its protocol state is unknown.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;
struct pg_result;

namespace cas::pg {

// A query or connection failure. `sqlstate` is the server's error code when it answered
// (e.g. "23505" unique violation), empty when the connection failed.
class Error : public std::runtime_error {
public:
    Error(const std::string& message, std::string_view sqlstate) : std::runtime_error(message) {
        sqlstate.copy(sqlstate_.data(), std::min(sqlstate.size(), sqlstate_.size() - 1));
    }
    [[nodiscard]] std::string_view sqlstate() const { return sqlstate_.data(); }
    [[nodiscard]] bool connection_failed() const { return sqlstate_[0] == '\0'; }

private:
    std::array<char, 6> sqlstate_{};  // five characters; an array keeps copies nothrow
};

// Parameters of one query, in order ($1, $2, ...). Text and bytes are referenced, not
// copied: they must outlive the query. Numbers are kept here as text.
class Params {
public:
    Params& text(std::string_view value);
    Params& optional_text(const std::optional<std::string>& value);
    Params& integer(std::int64_t value);
    Params& bytes(std::string_view value);  // a bytea, sent in binary
    Params& null();

    [[nodiscard]] int size() const { return static_cast<int>(values_.size()); }
    [[nodiscard]] const char* const* values() const { return values_.data(); }
    [[nodiscard]] const int* lengths() const { return lengths_.data(); }
    [[nodiscard]] const int* formats() const { return formats_.data(); }

private:
    Params& add(const char* data, std::size_t length, int format);
    std::vector<const char*> values_;
    std::vector<int> lengths_;
    std::vector<int> formats_;
    std::vector<std::unique_ptr<std::string>> owned_;  // stable addresses for numbers
};

// A query's rows. Columns are text unless the query asked for binary results.
class Result {
public:
    explicit Result(pg_result* result);
    [[nodiscard]] int rows() const;
    [[nodiscard]] bool is_null(int row, int column) const;
    [[nodiscard]] std::string_view text(int row, int column) const;
    [[nodiscard]] std::int64_t integer(int row, int column) const;
    [[nodiscard]] bool boolean(int row, int column) const;
    // Rows an INSERT, UPDATE or DELETE changed.
    [[nodiscard]] std::int64_t affected() const;

private:
    std::shared_ptr<pg_result> result_;
};

struct Notification {
    std::string channel;
    std::string payload;
};

enum class ResultFormat { text = 0, binary = 1 };

class Connection {
public:
    // Connects without blocking; throws Error when the server cannot be reached within
    // `timeout` or refuses. `statement_timeout` bounds every statement on the server.
    static boost::asio::awaitable<std::unique_ptr<Connection>> connect(
        boost::asio::any_io_executor executor, std::string conninfo,
        std::chrono::milliseconds timeout, std::chrono::milliseconds statement_timeout);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // One statement with parameters (the extended protocol); throws Error.
    boost::asio::awaitable<Result> query(std::string_view sql, const Params& params,
                                         ResultFormat format = ResultFormat::text);
    // Statements without parameters, several allowed (the simple protocol: migrations,
    // BEGIN/COMMIT, LISTEN); throws Error.
    boost::asio::awaitable<void> execute(std::string_view sql);
    // Waits for NOTIFY messages on the channels this connection LISTENs to; throws Error
    // when the connection fails.
    boost::asio::awaitable<std::vector<Notification>> notifications();

    [[nodiscard]] bool broken() const;

private:
    Connection(const boost::asio::any_io_executor& executor, pg_conn* conn);
    boost::asio::awaitable<void> flush();
    boost::asio::awaitable<Result> collect();
    boost::asio::awaitable<void> wait_readable();
    [[noreturn]] void fail(std::string_view what);
    void track_socket();
    void take_notifications();

    pg_conn* conn_;
    boost::asio::posix::stream_descriptor socket_;
    bool in_flight_ = false;  // a query was sent and its results not all read
    std::vector<Notification> pending_;
};

}  // namespace cas::pg
