// Parsing is defensive: stdout comes from a child process and may be anything (partial
// JSON, a different shape, invalid UTF-8); every field is type-checked before use.
#include "agent/cli_output.hpp"

#include "agent/cli_command.hpp"
#include "util/json_limits.hpp"
#include "util/utf8.hpp"

#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace cas::agent {
namespace json = boost::json;
namespace {

std::string_view trim(std::string_view text) {
    auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    auto last = text.find_last_not_of(" \t\r\n");
    return text.substr(first, last - first + 1);
}

// A count from the CLI, kept within [0, 2^53] so sums of counts cannot overflow.
std::int64_t int_field(const json::object& obj, std::string_view key) {
    constexpr std::int64_t kMax = std::int64_t{1} << 53;
    const auto* v = obj.if_contains(key);
    if (v == nullptr) return 0;
    if (v->is_int64()) return std::clamp<std::int64_t>(v->as_int64(), 0, kMax);
    if (v->is_uint64())
        return v->as_uint64() > static_cast<std::uint64_t>(kMax)
                   ? kMax
                   : static_cast<std::int64_t>(v->as_uint64());
    return 0;
}

std::optional<std::string> string_field(const json::object& obj, std::string_view key) {
    const auto* v = obj.if_contains(key);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return std::string(v->as_string());
}

const json::object* as_result_object(const json::value& value) {
    const auto* obj = value.if_object();
    if (obj == nullptr) return nullptr;
    const auto* type = obj->if_contains("type");
    if (type == nullptr || !type->is_string() || type->as_string() != "result") return nullptr;
    return obj;
}

// Collapses whitespace runs and cuts to `limit` bytes (on a UTF-8 boundary).
std::string one_line(std::string_view text, std::size_t limit = 500) {
    std::string out;
    bool space = false;
    for (char c : trim(text)) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            space = true;
            continue;
        }
        if (space && !out.empty()) out += ' ';
        space = false;
        out += c;
    }
    if (out.size() > limit) {
        out.resize(limit);
        while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0U) == 0x80U)
            out.pop_back();
        if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0U) out.pop_back();
    }
    return out;
}

CliResult from_object(const json::object& obj) {
    CliResult r;
    r.found = true;
    r.result = string_field(obj, "result");
    if (const auto* v = obj.if_contains("is_error"); v != nullptr && v->is_bool())
        r.is_error = v->as_bool();
    r.subtype = string_field(obj, "subtype").value_or("");
    if (const auto* v = obj.if_contains("total_cost_usd"); v != nullptr && v->is_number()) {
        auto cost = v->to_number<double>();
        if (std::isfinite(cost) && cost >= 0) r.total_cost_usd = cost;
    }
    if (const auto* v = obj.if_contains("usage"); v != nullptr && v->is_object()) {
        r.usage = *v;
        null_non_finite(r.usage);  // it is stored and relayed: keep it valid JSON
        const auto& u = v->as_object();
        r.tokens = {int_field(u, "input_tokens"), int_field(u, "output_tokens"),
                    int_field(u, "cache_creation_input_tokens"),
                    int_field(u, "cache_read_input_tokens")};
    }
    r.session_id = string_field(obj, "session_id").value_or("");
    if (const auto* v = obj.if_contains("duration_ms");
        v != nullptr && (v->is_int64() || v->is_uint64())) {
        r.duration_ms = int_field(obj, "duration_ms");
    }
    r.stop_reason = string_field(obj, "stop_reason");
    if (const auto* v = obj.if_contains("structured_output"); v != nullptr && !v->is_null()) {
        r.structured_output = *v;
        null_non_finite(r.structured_output);
    }
    if (const auto* v = obj.if_contains("errors"); v != nullptr && v->is_array()) {
        for (const auto& e : v->as_array()) {
            if (e.is_string()) r.errors.emplace_back(e.as_string());
        }
    }
    return r;
}

}  // namespace

CliResult parse_cli_result(std::string_view stdout_text) {
    // Bytes that are not UTF-8 inside a string would make the whole line unreadable as
    // JSON; repaired (U+FFFD), the result is still read.
    std::string repaired;
    if (!is_valid_utf8(stdout_text)) {
        repaired = to_valid_utf8(stdout_text);
        stdout_text = repaired;
    }
    auto text = trim(stdout_text);
    if (text.empty()) return {};
    boost::system::error_code ec;
    auto whole = parse_json(text, ec);
    if (!ec) {
        if (const auto* obj = as_result_object(whole)) return from_object(*obj);
    }
    // stream-json: one object per line, the result last.
    while (!text.empty()) {
        auto newline = text.rfind('\n');
        auto line = trim(newline == std::string_view::npos ? text : text.substr(newline + 1));
        text = newline == std::string_view::npos ? std::string_view{} : text.substr(0, newline);
        if (line.empty() || line.front() != '{') continue;
        auto value = parse_json(line, ec);
        if (ec) continue;
        if (const auto* obj = as_result_object(value)) return from_object(*obj);
    }
    return {};
}

bool is_result_line(std::string_view line) {
    // Most lines are stream events: only a line that names the type is parsed.
    if (line.find(R"("result")") == std::string_view::npos) return false;
    boost::system::error_code ec;
    auto value = parse_json(line, ec);
    return !ec && as_result_object(value) != nullptr;
}

std::optional<std::string> init_session_id(std::string_view line) {
    if (line.find(R"("init")") == std::string_view::npos) return std::nullopt;
    boost::system::error_code ec;
    auto value = parse_json(line, ec);
    const auto* obj = ec ? nullptr : value.if_object();
    if (obj == nullptr || string_field(*obj, "type") != "system" ||
        string_field(*obj, "subtype") != "init") {
        return std::nullopt;
    }
    return string_field(*obj, "session_id");
}

InitializeAnswer parse_initialize_answer(std::string_view line) {
    InitializeAnswer answer;
    if (line.find(R"("control_response")") == std::string_view::npos) return answer;
    boost::system::error_code ec;
    auto value = parse_json(line, ec);
    const auto* obj = ec ? nullptr : value.if_object();
    if (obj == nullptr || string_field(*obj, "type") != "control_response") return answer;
    const auto* response = obj->if_contains("response");
    if (response == nullptr || !response->is_object()) return answer;
    const auto& envelope = response->as_object();
    if (string_field(envelope, "request_id") != kInitializeRequestId) return answer;
    answer.found = true;
    answer.ok = string_field(envelope, "subtype") == "success";
    if (!answer.ok) {
        answer.error = one_line(string_field(envelope, "error").value_or("no reason given"));
        return answer;
    }
    const auto* body = envelope.if_contains("response");
    const auto* agents =
        body != nullptr && body->is_object() ? body->as_object().if_contains("agents") : nullptr;
    if (agents == nullptr || !agents->is_array()) return answer;
    answer.agents.emplace();
    for (const auto& entry : agents->as_array()) {
        // {"name": …, "description": …}; a bare string is taken as the name.
        const auto* name = entry.is_object() ? entry.as_object().if_contains("name") : &entry;
        if (name != nullptr && name->is_string()) answer.agents->emplace_back(name->as_string());
    }
    return answer;
}

std::optional<std::string> unknown_agent(const InitializeAnswer& answer, std::string_view agent) {
    if (!answer.agents) return std::nullopt;
    std::string known;
    for (const auto& name : *answer.agents) {
        if (name == agent) return std::nullopt;
        known += (known.empty() ? "" : ", ") + name;
    }
    return one_line(fmt::format("Agent '{}' not found; the CLI has: {}", agent, known));
}

std::string answer_text(const CliResult& parsed, std::string_view stdout_text) {
    if (parsed.result && !parsed.result->empty()) return *parsed.result;
    return std::string(trim(stdout_text));
}

std::string failure_reason(const CliResult& parsed, std::string_view stderr_text, int exit_code) {
    // Each source counts only if it says something once whitespace is collapsed.
    if (parsed.found && parsed.is_error && parsed.result) {
        if (auto line = one_line(*parsed.result); !line.empty()) return line;
    }
    if (!parsed.errors.empty()) {
        std::string joined;
        for (const auto& e : parsed.errors) joined += (joined.empty() ? "" : "; ") + e;
        if (auto line = one_line(joined); !line.empty()) return line;
    }
    if (auto line = one_line(stderr_text); !line.empty()) return line;
    if (parsed.found && !parsed.subtype.empty() && parsed.subtype != "success") {
        return fmt::format("the CLI ended with '{}'", parsed.subtype);
    }
    return fmt::format("the CLI exited with code {} and gave no reason", exit_code);
}

}  // namespace cas::agent
