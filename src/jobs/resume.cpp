#include "jobs/resume.hpp"

#include "agent/cli_command.hpp"

#include <fmt/format.h>

namespace cas::jobs {

boost::asio::awaitable<std::variant<SessionToResume, std::string>> session_to_resume(
    JobStore& store, std::string_view resume) {
    if (agent::is_session_id(resume)) co_return SessionToResume{std::string(resume)};
    std::optional<Job> job;
    if (is_job_id(resume)) job = co_await store.find(resume);
    if (!job) co_return fmt::format("no job {} (or it was deleted by retention)", resume);
    if (!job->session_id || !agent::is_session_id(*job->session_id)) {
        co_return fmt::format(
            "job {} has no session to resume (status {}: it ended before the CLI "
            "started one)",
            resume, to_string(job->status));
    }
    co_return SessionToResume{*job->session_id};
}

}  // namespace cas::jobs
