#include "jobs/resume.hpp"

#include "agent/cli_command.hpp"

#include <fmt/format.h>

namespace cas::jobs {

std::variant<SessionToResume, std::string> session_to_resume(const JobStore& store,
                                                             std::string_view resume) {
    if (agent::is_session_id(resume)) return SessionToResume{std::string(resume)};
    auto job = is_job_id(resume) ? store.find(resume) : std::nullopt;
    if (!job) return fmt::format("no job {} (or it was deleted by retention)", resume);
    if (!job->session_id || !agent::is_session_id(*job->session_id)) {
        return fmt::format(
            "job {} has no session to resume (status {}: it ended before the CLI "
            "started one)",
            resume, to_string(job->status));
    }
    return SessionToResume{*job->session_id};
}

}  // namespace cas::jobs
