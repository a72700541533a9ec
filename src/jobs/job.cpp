#include "jobs/job.hpp"

#include "random_id.hpp"

#include <boost/json.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>

namespace cas::jobs {
namespace json = boost::json;
namespace {

template <class T>
json::value optional_value(const std::optional<T>& value) {
    if (!value) return nullptr;
    return json::value_from(*value);
}

}  // namespace

std::string_view to_string(JobStatus status) {
    switch (status) {
        case JobStatus::running: return "running";
        case JobStatus::completed: return "completed";
        case JobStatus::failed: return "failed";
        case JobStatus::timeout: return "timeout";
        case JobStatus::cancelled: return "cancelled";
        case JobStatus::error: return "error";
        case JobStatus::interrupted: return "interrupted";
    }
    return "error";
}

json::value to_json(const Job& job) {
    json::array output;
    output.reserve(job.output.size());
    for (const auto& line : job.output) output.emplace_back(line);
    return json::object{
        {"job_id", job.id},
        {"status", to_string(job.status)},
        {"prompt", job.prompt},
        {"agent", job.agent},
        {"metadata", job.metadata},
        {"max_budget_usd", job.max_budget_usd},
        {"timeout_seconds", job.timeout_seconds},
        {"started_at", job.started_at},
        {"finished_at", optional_value(job.finished_at)},
        {"exit_code", optional_value(job.exit_code)},
        {"output", std::move(output)},
        {"stderr", job.stderr_text},
        {"output_truncated", job.output_truncated},
        {"stderr_truncated", job.stderr_truncated},
        {"error", optional_value(job.error)},
        {"result", optional_value(job.result)},
        {"is_error", optional_value(job.is_error)},
        {"subtype", optional_value(job.subtype)},
        {"total_cost_usd", optional_value(job.total_cost_usd)},
        {"usage", job.usage},
        {"session_id", optional_value(job.session_id)},
        {"duration_ms", optional_value(job.duration_ms)},
        {"git_sync",
         json::object{{"status", job.git_sync}, {"detail", optional_value(job.git_sync_detail)}}},
    };
}

std::string new_job_id() {
    return random_hex(12);
}

bool is_job_id(std::string_view text) {
    if (text.size() != 12) return false;
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::string utc_now_iso() {
    auto now = std::chrono::floor<std::chrono::microseconds>(std::chrono::system_clock::now());
    auto seconds = std::chrono::floor<std::chrono::seconds>(now);
    return fmt::format("{:%FT%T}.{:06}+00:00", seconds, (now - seconds).count());
}

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    while (!text.empty()) {
        auto newline = text.find('\n');
        auto length = newline == std::string_view::npos ? text.size() : newline + 1;
        lines.emplace_back(text.substr(0, length));
        text.remove_prefix(length);
    }
    return lines;
}

}  // namespace cas::jobs
