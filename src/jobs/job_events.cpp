#include "jobs/job_events.hpp"

#include "util/json_text.hpp"
#include "util/utf8.hpp"

#include <boost/json.hpp>

namespace cas::jobs {
namespace json = boost::json;
namespace {

// `event: NAME\ndata: JSON\n\n`
std::string sse_event(std::string_view name, const json::value& data) {
    auto text = json_text(data);
    std::string out;
    out.reserve(name.size() + text.size() + 16);
    out.append("event: ").append(name).append("\ndata: ").append(text).append("\n\n");
    return out;
}

std::string output_event(std::string_view line) {
    return sse_event("output", json::object{{"line", to_valid_utf8(line)}});
}

std::string record_event(const Job& job) {
    return sse_event("job", to_json(job));
}

}  // namespace

std::string status_event(const Job& job) {
    return sse_event("status", json::object{{"job_id", job.id}, {"status", to_string(job.status)}});
}

bool is_record_event(std::string_view event) {
    return event.starts_with("event: job\n");
}

void JobEvents::push(std::string event) {
    events_.push_back(std::move(event));
    changed_.notify();
}

void JobEvents::status(const Job& job) {
    push(status_event(job));
}

void JobEvents::output(std::string_view line) {
    push(output_event(line));
}

std::string closing_events(const Job& job) {
    return status_event(job) + record_event(job);
}

void JobEvents::finish(Job job) {
    push(status_event(job));
    push(record_event(job));
    final_ = std::move(job);
    close();
}

void JobEvents::close() {
    closed_ = true;
    changed_.notify();
}

boost::asio::awaitable<void> JobEvents::wait(std::size_t seen) {
    if (seen < events_.size() || closed_) co_return;
    co_await changed_.wait();
}

boost::asio::awaitable<void> JobEvents::wait_closed() {
    for (bool notified = true; notified && !closed_;) notified = co_await changed_.wait();
}

std::string replay_events(const Job& job) {
    std::string replay = status_event(job);
    for (const auto& line : job.output) {
        auto text = std::string_view(line);
        if (text.ends_with('\n')) text.remove_suffix(1);
        replay += output_event(text);
    }
    replay += record_event(job);
    return replay;
}

}  // namespace cas::jobs
