// The log sink: lines are appended to a buffer and written in batches by a flusher thread, in
// the order they were made. The buffer is swapped out under its lock and written outside it,
// so a thread that logs waits on a write only when its line is urgent (a warning, an error,
// a life-cycle line) or the buffer is full; a write carries whole lines, so a line never
// reaches stderr cut or interleaved.
#include "telemetry/log.hpp"

#include "util/json_text.hpp"
#include "util/utf8.hpp"

#include <unistd.h>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <iterator>
#include <mutex>
#include <thread>

namespace cas::log {
namespace {

std::atomic<Level> min_level{Level::info};

// A burst of requests fills this long before 50 ms pass; a write of 64 KiB is one syscall.
constexpr std::size_t kBatchBytes = 64U * 1024U;
constexpr auto kFlushInterval = std::chrono::milliseconds(50);

void write_all(int fd, std::string_view bytes) noexcept {
    while (!bytes.empty()) {
        auto written = ::write(fd, bytes.data(), bytes.size());
        if (written < 0) {
            if (errno == EINTR) continue;
            return;  // nowhere left to say it
        }
        bytes.remove_prefix(static_cast<std::size_t>(written));
    }
}

class Sink {
public:
    void put(std::string_view line, bool urgent) {
        {
            std::lock_guard lock(pending_mutex_);
            const bool was_empty = pending_.empty();
            pending_ += line;
            if (!urgent && pending_.size() < kBatchBytes) {
                start_flusher();
                if (was_empty) waiting_.notify_one();
                return;
            }
        }
        flush();
    }

    void flush() {
        std::lock_guard write_lock(write_mutex_);
        {
            std::lock_guard lock(pending_mutex_);
            writing_.swap(pending_);
        }
        write_all(fd_.load(), writing_);
        writing_.clear();
    }

    // From a signal handler: no lock may be waited for there (the thread that crashed may
    // hold it), so when the buffer is busy its lines are lost with the process.
    void flush_from_signal() noexcept {
        if (!pending_mutex_.try_lock()) return;
        write_all(fd_.load(), pending_);
        pending_.clear();
        pending_mutex_.unlock();
    }

    void set_output(int fd) {
        flush();
        fd_.store(fd);
    }

private:
    // Started with the first line that waits (under pending_mutex_). Detached, and the sink
    // is never destroyed: lines written during exit still find it.
    void start_flusher() {
        if (flusher_started_) return;
        flusher_started_ = true;
        std::thread([this] { run_flusher(); }).detach();
        (void)std::atexit([] { sink().flush(); });
    }

    void run_flusher() {
        std::unique_lock lock(pending_mutex_);
        for (;;) {
            waiting_.wait(lock, [this] { return !pending_.empty(); });
            // The lines that follow within the interval go in the same write.
            waiting_.wait_for(lock, kFlushInterval);
            lock.unlock();
            flush();
            lock.lock();
        }
    }

public:
    static Sink& sink() {
        static auto* const instance = new Sink;  // never destroyed, see start_flusher
        return *instance;
    }

private:
    std::mutex write_mutex_;  // taken first: one write at a time, batches in order
    std::string writing_;     // under write_mutex_
    std::mutex pending_mutex_;
    std::condition_variable waiting_;
    std::string pending_;
    bool flusher_started_ = false;
    std::atomic<int> fd_{STDERR_FILENO};
};

thread_local std::string line_buffer;

constexpr std::array kFatalSignals{SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
std::array<struct sigaction, kFatalSignals.size()> previous_actions{};

void on_fatal_signal(int signal, siginfo_t* info, void* /*context*/) {
    Sink::sink().flush_from_signal();
    for (std::size_t i = 0; i < kFatalSignals.size(); ++i) {
        if (kFatalSignals[i] == signal) (void)::sigaction(signal, &previous_actions[i], nullptr);
    }
    // A fault repeats when the instruction does, now reaching the previous handler; a signal
    // that was sent (kill, raise, abort) has to be sent again.
    if (info == nullptr || info->si_code <= 0) (void)::raise(signal);
}

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

Line::Line(Level level, std::string_view message)
    : text_(level < min_level.load() ? nullptr : &line_buffer),
      level_(level),
      urgent_(level >= Level::warn) {
    if (text_ != nullptr) start(message);
}

Line::Line(Announcement /*unused*/, std::string_view message)
    : text_(&line_buffer), level_(Level::info), urgent_(true) {
    start(message);
}

void Line::start(std::string_view message) {
    auto now = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
    auto seconds = std::chrono::floor<std::chrono::seconds>(now);
    text_->clear();
    fmt::format_to(std::back_inserter(*text_), R"({{"time":"{:%FT%T}.{:03}Z","level":")", seconds,
                   (now - seconds).count());
    *text_ += name_of(level_);
    *text_ += R"(","msg":)";
    append_json_quoted(*text_, message);
}

bool Line::begin_field(std::string_view name) {
    if (text_ == nullptr) return false;
    *text_ += ',';
    append_json_quoted(*text_, name);
    *text_ += ':';
    return true;
}

Line& Line::field(std::string_view key, std::string_view value) {
    if (begin_field(key)) append_json_quoted(*text_, value);
    return *this;
}

Line& Line::field(std::string_view key, double value) {
    if (begin_field(key)) append_json_number(*text_, value);
    return *this;
}

Line& Line::field(std::string_view key, const boost::json::value& value) {
    if (begin_field(key)) append_json_text(*text_, value);
    return *this;
}

Line& Line::raw_field(std::string_view key, std::string_view json) {
    if (begin_field(key)) *text_ += json;
    return *this;
}

Line& Line::integer_field(std::string_view key, std::int64_t value) {
    if (begin_field(key)) append_json_number(*text_, value);
    return *this;
}

Line& Line::unsigned_field(std::string_view key, std::uint64_t value) {
    if (begin_field(key)) append_json_number(*text_, value);
    return *this;
}

void Line::write() {
    if (text_ == nullptr) return;
    *text_ += "}\n";
    // Fields may carry bytes from the network (a request target): keep every line UTF-8.
    if (is_valid_utf8(*text_)) {
        Sink::sink().put(*text_, urgent_);
    } else {
        Sink::sink().put(to_valid_utf8(*text_), urgent_);
    }
    text_ = nullptr;
}

namespace {

void write_fields(Line& line, const boost::json::object& fields) {
    for (const auto& field : fields) line.field(field.key(), field.value());
    line.write();
}

}  // namespace

void write(Level level, std::string_view message, const boost::json::object& fields) {
    Line line(level, message);
    write_fields(line, fields);
}

void announce(std::string_view message, const boost::json::object& fields) {
    Line line(Line::Announcement{}, message);
    write_fields(line, fields);
}

void flush() {
    Sink::sink().flush();
}

void flush_on_fatal_signals() {
    struct sigaction action {};
    action.sa_sigaction = on_fatal_signal;
    action.sa_flags = SA_SIGINFO;
    (void)sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < kFatalSignals.size(); ++i) {
        (void)::sigaction(kFatalSignals[i], &action, &previous_actions[i]);
    }
}

void set_output(int fd) {
    Sink::sink().set_output(fd);
}

}  // namespace cas::log
