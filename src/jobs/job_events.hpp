// A job's progress as Server-Sent Events, and the one place their shapes are written:
// `status` on each status change, `output` per CLI stdout line, and at the end the final
// `status` then `job` (the whole record). The live log of a queued or running job keeps
// what happened so far, so a client of GET /jobs/{id}/events that joins late gets that,
// then waits for more; a finished job's stream is replayed from its record in the same
// shapes. Single-threaded (the io_context's).
#pragma once

#include "jobs/job.hpp"
#include "util/async.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cas::jobs {

class JobEvents {
public:
    explicit JobEvents(const boost::asio::any_io_executor& executor) : changed_(executor) {}

    void status(const Job& job);
    void output(std::string_view line);
    // The job ended with this record: its final status and the record, then no more. The
    // record is kept (final_record()) for whoever waits on the end, such as a cancel.
    void finish(Job job);
    // No more events, without an end (a queued job's stream at shutdown).
    void close();

    [[nodiscard]] const std::vector<std::string>& events() const { return events_; }
    [[nodiscard]] bool closed() const { return closed_; }
    // The record finish() was given, once it was.
    [[nodiscard]] const std::optional<Job>& final_record() const { return final_; }
    // Waits until there is an event past `seen` or the log is closed.
    boost::asio::awaitable<void> wait(std::size_t seen);
    // Waits until the log is closed.
    boost::asio::awaitable<void> wait_closed();

private:
    void push(std::string event);

    std::vector<std::string> events_;
    bool closed_ = false;
    std::optional<Job> final_;
    Event changed_;
};

// The `status` event of the job as it is now.
std::string status_event(const Job& job);
// Whether `event` is the last of a stream: the `job` event with the final record.
bool is_record_event(std::string_view event);
// The last events of a stream: the final status, then the record.
std::string closing_events(const Job& job);

// Everything a live stream of this finished job sent: its status, its output lines, and
// its record (the first status is the final one: the record keeps no history).
std::string replay_events(const Job& job);

}  // namespace cas::jobs
