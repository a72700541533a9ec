// Owns running jobs: starts each as a coroutine holding the execution slot, keeps its
// Cancellation, and is the one place a job's status changes (so a record can never say
// `running` after its run ended).
#pragma once

#include "agent/agent_run.hpp"
#include "agent/execution_slot.hpp"
#include "agent/in_flight.hpp"
#include "jobs/job_store.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <string>

namespace cas::jobs {

struct NewJob {
    std::string prompt;
    std::string agent;
    boost::json::value metadata;
    double max_budget_usd = 5.0;
    std::int64_t timeout_seconds = 2700;
};

class JobRegistry {
public:
    JobRegistry(boost::asio::any_io_executor executor, JobStore& store,
                const agent::AgentSettings& settings, agent::InFlightRuns& runs);

    // Records the job as running and starts it; the permit is held until the run ends.
    Job start(NewJob request, agent::ExecutionSlot::Permit permit);


private:
    boost::asio::awaitable<void> run(Job job, agent::ExecutionSlot::Permit permit,
                                     std::shared_ptr<agent::Cancellation> cancel);
    void finish(Job& job, const agent::AgentOutcome& outcome);

    boost::asio::any_io_executor executor_;
    JobStore& store_;
    const agent::AgentSettings& settings_;
    agent::InFlightRuns& runs_;  // a shutdown cancels them all; such jobs end `interrupted`
};

}  // namespace cas::jobs
