// What `resume` on POST /execute names: an earlier job (its session) or a CLI session.
#pragma once

#include "jobs/job_store.hpp"

#include <string>
#include <string_view>
#include <variant>

namespace cas::jobs {

struct SessionToResume {
    std::string session_id;
};

// The session `resume` names, or why it names none (for a 422 on `resume`): a job id the
// store does not know, or a job that has no session (it ended before the CLI gave one).
// A session id is taken as it is: whether the CLI knows it shows when the run starts.
boost::asio::awaitable<std::variant<SessionToResume, std::string>> session_to_resume(
    JobStore& store, std::string_view resume);

}  // namespace cas::jobs
