// The loops follow libpq's "asynchronous command processing" chapter: PQconnectPoll until
// OK, awaiting the socket for what it asks; PQsendQueryParams, PQflush until all is sent;
// then PQconsumeInput while PQisBusy and PQgetResult until NULL.
#include "pg/connection.hpp"

#include "pg/libpq.hpp"
#include "telemetry/log.hpp"
#include "util/async.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include <charconv>

namespace cas::pg {
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using Descriptor = asio::posix::stream_descriptor;

namespace {

std::string trimmed(const char* message) {
    std::string text = message == nullptr ? "" : message;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

// The server's notices go to the log, not to stderr (libpq's default): a WARNING as a
// warning; NOTICE and below ("relation already exists, skipping") are dropped.
void log_notice(void* /*context*/, const pg_result* result) {
    const char* severity = libpq().PQresultErrorField(result, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (severity == nullptr || std::string_view(severity) != "WARNING") return;
    log::warn("database warning", {{"message", trimmed(libpq().PQresultErrorMessage(result))}});
}

}  // namespace

Params& Params::add(const char* data, std::size_t length, int format) {
    values_.push_back(data);
    lengths_.push_back(static_cast<int>(length));
    formats_.push_back(format);
    return *this;
}

// Sent in binary: libpq reads text-format parameters up to a NUL, and a view has none. The
// binary form of a text value is its bytes, so this holds wherever the parameter is text.
Params& Params::text(std::string_view value) {
    return add(value.data(), value.size(), 1);
}

Params& Params::optional_text(const std::optional<std::string>& value) {
    return value ? text(*value) : null();
}

Params& Params::integer(std::int64_t value) {
    owned_.push_back(std::make_unique<std::string>(std::to_string(value)));
    return add(owned_.back()->c_str(), owned_.back()->size(), 0);
}

Params& Params::bytes(std::string_view value) {
    return add(value.data(), value.size(), 1);
}

Params& Params::null() {
    return add(nullptr, 0, 0);
}

Result::Result(pg_result* result) : result_(result, [](pg_result* r) { libpq().PQclear(r); }) {}

int Result::rows() const {
    return result_ ? libpq().PQntuples(result_.get()) : 0;
}

bool Result::is_null(int row, int column) const {
    return libpq().PQgetisnull(result_.get(), row, column) != 0;
}

std::string_view Result::text(int row, int column) const {
    return {libpq().PQgetvalue(result_.get(), row, column),
            static_cast<std::size_t>(libpq().PQgetlength(result_.get(), row, column))};
}

std::int64_t Result::integer(int row, int column) const {
    auto value = text(row, column);
    std::int64_t number = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc{} || end != value.data() + value.size()) {
        throw Error(fmt::format("expected an integer, got '{}'", value), "22P02");
    }
    return number;
}

bool Result::boolean(int row, int column) const {
    return text(row, column) == "t";
}

std::int64_t Result::affected() const {
    const char* count = result_ ? libpq().PQcmdTuples(result_.get()) : "";
    std::int64_t number = 0;
    std::from_chars(count, count + std::char_traits<char>::length(count), number);
    return number;
}

Connection::Connection(const asio::any_io_executor& executor, pg_conn* conn)
    : conn_(conn), socket_(executor) {}

Connection::~Connection() {
    // libpq owns the socket: the descriptor lets go of it first, or it would be closed twice.
    if (socket_.is_open()) socket_.release();
    libpq().PQfinish(conn_);
}

asio::awaitable<std::unique_ptr<Connection>> Connection::connect(
    asio::any_io_executor executor, std::string conninfo, std::chrono::milliseconds timeout,
    std::chrono::milliseconds statement_timeout) {
    pg_conn* raw = libpq().PQconnectStart(conninfo.c_str());
    if (raw == nullptr) throw Error("cannot connect to the database: out of memory", "");
    std::unique_ptr<Connection> connection(new Connection(executor, raw));
    auto& socket = connection->socket_;
    if (libpq().PQstatus(raw) == CONNECTION_BAD) connection->fail("cannot connect to the database");
    if (libpq().PQsetnonblocking(raw, 1) != 0) connection->fail("cannot connect to the database");
    libpq().PQsetNoticeReceiver(raw, log_notice, nullptr);
    Timer deadline(executor, timeout);
    auto polling = PGRES_POLLING_WRITING;
    while (polling != PGRES_POLLING_OK) {
        if (polling == PGRES_POLLING_FAILED) connection->fail("cannot connect to the database");
        // The socket may change while libpq tries the addresses a host name has, even to a
        // new socket with the old one's number: registered afresh each time.
        if (socket.is_open()) socket.release();
        socket.assign(libpq().PQsocket(raw));
        auto wanted =
            polling == PGRES_POLLING_READING ? Descriptor::wait_read : Descriptor::wait_write;
        auto ready = co_await (socket.async_wait(wanted, kUseNothrow) || deadline.async_wait());
        if (ready.index() == 1) {
            throw Error(fmt::format("cannot connect to the database: no answer within {} ms",
                                    timeout.count()),
                        "");
        }
        polling = libpq().PQconnectPoll(raw);
    }
    auto set_timeout = fmt::format("SET statement_timeout = {}", statement_timeout.count());
    co_await connection->execute(set_timeout);
    co_return connection;
}

// Inside a transaction too: one left open by a failure must not reach the next borrower
// (closing the connection rolls it back).
bool Connection::broken() const {
    return in_flight_ || libpq().PQstatus(conn_) != CONNECTION_OK ||
           libpq().PQtransactionStatus(conn_) != PQTRANS_IDLE;
}

void Connection::fail(std::string_view what) {
    track_socket();
    throw Error(fmt::format("{}: {}", what, trimmed(libpq().PQerrorMessage(conn_))), "");
}

// libpq closes its socket itself when the connection drops (inside PQconsumeInput, PQflush,
// a send). The descriptor must let go of that number at once: once reused (by the next
// connection, a pipe), releasing it later would unregister someone else's descriptor.
void Connection::track_socket() {
    if (socket_.is_open() && socket_.native_handle() != libpq().PQsocket(conn_)) socket_.release();
}

asio::awaitable<void> Connection::wait_readable() {
    if (!socket_.is_open()) throw Error("database connection lost", "");
    auto [ec] = co_await socket_.async_wait(Descriptor::wait_read, kUseNothrow);
    if (ec) throw Error(fmt::format("database connection: {}", ec.message()), "");
}

asio::awaitable<void> Connection::flush() {
    for (;;) {
        int pending = libpq().PQflush(conn_);
        track_socket();
        if (pending == 0) co_return;
        if (pending < 0) fail("database connection lost");
        if (!socket_.is_open()) throw Error("database connection lost", "");
        auto [ec] = co_await socket_.async_wait(Descriptor::wait_write, kUseNothrow);
        if (ec) throw Error(fmt::format("database connection: {}", ec.message()), "");
    }
}

void Connection::take_notifications() {
    while (PGnotify* notify = libpq().PQnotifies(conn_)) {
        pending_.push_back({notify->relname, notify->extra});
        libpq().PQfreemem(notify);
    }
}

asio::awaitable<Result> Connection::collect() {
    Result last(nullptr);
    std::optional<std::pair<std::string, std::string>> error;  // message, SQLSTATE
    for (;;) {
        while (libpq().PQisBusy(conn_) != 0) {
            co_await wait_readable();
            if (libpq().PQconsumeInput(conn_) == 0) fail("database connection lost");
            track_socket();
        }
        pg_result* result = libpq().PQgetResult(conn_);
        track_socket();
        if (result == nullptr) break;
        Result held(result);
        auto status = libpq().PQresultStatus(result);
        if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE ||
            status == PGRES_NONFATAL_ERROR) {
            if (!error) {
                const char* state = libpq().PQresultErrorField(result, PG_DIAG_SQLSTATE);
                error.emplace(trimmed(libpq().PQresultErrorMessage(result)),
                              state == nullptr ? "" : state);
            }
        } else {
            last = std::move(held);
        }
    }
    in_flight_ = false;
    take_notifications();
    if (error) throw Error(error->first, error->second);
    co_return last;
}

asio::awaitable<Result> Connection::query(std::string_view sql, const Params& params,
                                          ResultFormat format) {
    std::string statement(sql);  // libpq reads up to a NUL
    if (libpq().PQsendQueryParams(conn_, statement.c_str(), params.size(), nullptr, params.values(),
                                  params.lengths(), params.formats(),
                                  static_cast<int>(format)) != 1) {
        fail("database query not sent");
    }
    in_flight_ = true;
    co_await flush();
    auto result = co_await collect();
    co_return result;
}

asio::awaitable<void> Connection::execute(std::string_view sql) {
    std::string statement(sql);
    if (libpq().PQsendQuery(conn_, statement.c_str()) != 1) fail("database query not sent");
    in_flight_ = true;
    co_await flush();
    auto ignored = co_await collect();
}

asio::awaitable<std::vector<Notification>> Connection::notifications() {
    take_notifications();
    while (pending_.empty()) {
        co_await wait_readable();
        if (libpq().PQconsumeInput(conn_) == 0) fail("database connection lost");
        track_socket();
        take_notifications();
    }
    co_return std::exchange(pending_, {});
}

}  // namespace cas::pg
