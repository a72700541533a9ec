#include "api/stream_shape.hpp"

#include "util/utf8.hpp"

namespace cas::api {

std::optional<std::string> TurnResult::session_id() const {
    if (!agent::is_session_id(outcome.cli.session_id)) return std::nullopt;
    return outcome.cli.session_id;
}

std::string failure_message(const agent::AgentOutcome& outcome) {
    if (outcome.status == agent::RunStatus::timeout) return "agent timed out";
    if (outcome.status == agent::RunStatus::cancelled) return "agent run cancelled";
    if (outcome.status == agent::RunStatus::interrupted) return "agent run interrupted";
    return "execution failed: " + to_valid_utf8(outcome.reason);
}

}  // namespace cas::api
