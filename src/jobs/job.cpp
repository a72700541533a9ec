#include "jobs/job.hpp"

#include "agent/workspace_changes.hpp"
#include "util/random_id.hpp"
#include "util/wall_clock.hpp"

#include <boost/describe/enum_from_string.hpp>
#include <boost/describe/enum_to_string.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/json.hpp>
#include <boost/mp11/algorithm.hpp>

#include <stdexcept>

namespace cas::jobs {
namespace json = boost::json;
namespace {

template <class T>
json::value optional_value(const std::optional<T>& value) {
    if (!value) return nullptr;
    return json::value_from(*value);
}

json::value webhook_json(const std::optional<WebhookState>& webhook) {
    if (!webhook) return nullptr;
    return json::object{
        {"url", webhook->url},
        {"id", webhook->id},
        {"status", to_string(webhook->status)},
        {"attempts", webhook->attempts},
        {"last_status", optional_value(webhook->last_status)},
        {"last_error", optional_value(webhook->last_error)},
        {"delivered_at", optional_value(webhook->delivered_at)},
        {"next_attempt_at", optional_value(webhook->next_attempt_at)},
    };
}

}  // namespace

std::string_view to_string(JobStatus status) {
    return boost::describe::enum_to_string(status, "error");
}

std::string_view to_string(WebhookStatus status) {
    return boost::describe::enum_to_string(status, "failed");
}

std::optional<JobStatus> parse_status(std::string_view text) {
    // Boost 1.81's enum_from_string takes only a NUL-terminated name.
    std::optional<JobStatus> found;
    boost::mp11::mp_for_each<boost::describe::describe_enumerators<JobStatus>>([&](auto d) {
        if (text == d.name) found = d.value;
    });
    return found;
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
        {"model", optional_value(job.model)},
        {"run_options", agent::to_json(job.run_options)},
        {"metadata", job.metadata},
        {"max_budget_usd", job.max_budget_usd},
        {"timeout_seconds", job.timeout_seconds},
        {"created_at", job.created_at},
        {"started_at", optional_value(job.started_at)},
        {"finished_at", optional_value(job.finished_at)},
        {"exit_code", optional_value(job.exit_code)},
        {"output", std::move(output)},
        {"stderr", job.stderr_text},
        {"output_cap_bytes", job.output_cap},
        {"output_truncated", job.output_truncated},
        {"stderr_truncated", job.stderr_truncated},
        {"error", optional_value(job.error)},
        {"result", optional_value(job.result)},
        {"structured_output", job.structured_output},
        {"is_error", optional_value(job.is_error)},
        {"subtype", optional_value(job.subtype)},
        {"total_cost_usd", optional_value(job.total_cost_usd)},
        {"usage", job.usage},
        {"session_id", optional_value(job.session_id)},
        {"resumed_from", optional_value(job.resumed_from)},
        {"resumed_session", optional_value(job.resumed_session)},
        {"fork", job.fork},
        {"duration_ms", optional_value(job.duration_ms)},
        {"git_sync",
         json::object{{"status", job.git_sync}, {"detail", optional_value(job.git_sync_detail)}}},
        {"workspace", job.workspace},
        {"idempotency_key", optional_value(job.idempotency_key)},
        {"webhook", webhook_json(job.webhook)},
    };
}

json::value to_summary_json(const Job& job) {
    constexpr std::size_t kPromptPreview = 200;
    auto value = to_json(job);
    auto& obj = value.as_object();
    obj.erase("output");
    obj.erase("stderr");
    obj.erase("result");
    obj.erase("structured_output");
    obj.erase("run_options");  // a schema and a system prompt may be tens of KiB each
    agent::summarize_workspace(obj["workspace"]);  // its list of files may be too
    if (job.prompt.size() > kPromptPreview) {
        auto cut = job.prompt.substr(0, kPromptPreview);
        // Back off to a character boundary.
        while (!cut.empty() && (static_cast<unsigned char>(cut.back()) & 0xC0U) == 0x80U)
            cut.pop_back();
        if (!cut.empty() && static_cast<unsigned char>(cut.back()) >= 0xC0U) cut.pop_back();
        obj["prompt"] = cut + "\u2026";
    }
    return value;
}

namespace {

template <class T>
std::optional<T> optional_from(const json::object& obj, std::string_view key) {
    const auto* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    return json::value_to<T>(*v);
}

std::optional<WebhookState> webhook_from_json(const json::object& obj) {
    const auto* value = obj.if_contains("webhook");
    if (value == nullptr || value->is_null()) return std::nullopt;
    const auto& webhook = value->as_object();
    WebhookState state;
    state.url = json::value_to<std::string>(webhook.at("url"));
    state.id = json::value_to<std::string>(webhook.at("id"));
    auto status = json::value_to<std::string>(webhook.at("status"));
    if (!boost::describe::enum_from_string(status.c_str(), state.status)) {
        throw std::invalid_argument("unknown webhook status");
    }
    state.attempts = json::value_to<int>(webhook.at("attempts"));
    state.last_status = optional_from<int>(webhook, "last_status");
    state.last_error = optional_from<std::string>(webhook, "last_error");
    state.delivered_at = optional_from<std::string>(webhook, "delivered_at");
    state.next_attempt_at = optional_from<std::string>(webhook, "next_attempt_at");
    return state;
}

}  // namespace

Job job_from_json(const json::value& value) {
    try {
        const auto& obj = value.as_object();
        Job job;
        job.id = json::value_to<std::string>(obj.at("job_id"));
        auto status = parse_status(json::value_to<std::string>(obj.at("status")));
        if (!status) throw std::invalid_argument("unknown status");
        job.status = *status;
        job.prompt = json::value_to<std::string>(obj.at("prompt"));
        job.agent = json::value_to<std::string>(obj.at("agent"));
        job.metadata = obj.at("metadata");
        job.max_budget_usd = obj.at("max_budget_usd").to_number<double>();
        job.timeout_seconds = obj.at("timeout_seconds").to_number<std::int64_t>();
        job.created_at = json::value_to<std::string>(obj.at("created_at"));
        job.started_at = optional_from<std::string>(obj, "started_at");
        job.finished_at = optional_from<std::string>(obj, "finished_at");
        job.exit_code = optional_from<int>(obj, "exit_code");
        job.output = json::value_to<std::vector<std::string>>(obj.at("output"));
        job.stderr_text = json::value_to<std::string>(obj.at("stderr"));
        job.output_cap = obj.at("output_cap_bytes").to_number<std::size_t>();
        job.output_truncated = obj.at("output_truncated").as_bool();
        job.stderr_truncated = obj.at("stderr_truncated").as_bool();
        job.error = optional_from<std::string>(obj, "error");
        job.result = optional_from<std::string>(obj, "result");
        if (const auto* structured = obj.if_contains("structured_output")) {
            job.structured_output = *structured;
        }
        job.model = optional_from<std::string>(obj, "model");
        if (const auto* options = obj.if_contains("run_options")) {
            job.run_options = agent::run_options_from_json(*options);
        }
        job.is_error = optional_from<bool>(obj, "is_error");
        job.subtype = optional_from<std::string>(obj, "subtype");
        if (const auto* cost = obj.if_contains("total_cost_usd");
            cost != nullptr && !cost->is_null()) {
            job.total_cost_usd = cost->to_number<double>();
        }
        job.usage = obj.at("usage");
        job.session_id = optional_from<std::string>(obj, "session_id");
        job.resumed_from = optional_from<std::string>(obj, "resumed_from");
        job.resumed_session = optional_from<std::string>(obj, "resumed_session");
        job.fork = optional_from<bool>(obj, "fork").value_or(false);
        job.duration_ms = optional_from<std::int64_t>(obj, "duration_ms");
        const auto& git = obj.at("git_sync").as_object();
        job.git_sync = json::value_to<std::string>(git.at("status"));
        job.git_sync_detail = optional_from<std::string>(git, "detail");
        if (const auto* workspace = obj.if_contains("workspace")) job.workspace = *workspace;
        job.idempotency_key = optional_from<std::string>(obj, "idempotency_key");
        job.webhook = webhook_from_json(obj);
        return job;
    } catch (const std::exception& e) {
        throw std::invalid_argument(std::string("unreadable job record: ") + e.what());
    }
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
    return iso8601_utc(6, "+00:00");
}

std::size_t output_bytes(const Job& job) {
    std::size_t bytes = 0;
    for (const auto& line : job.output) bytes += line.size();
    return bytes;
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
