#include "jobs/job_store.hpp"

namespace cas::jobs {

void MemoryJobStore::save(const Job& job) {
    jobs_[job.id] = job;
}

std::optional<Job> MemoryJobStore::find(std::string_view id) const {
    auto it = jobs_.find(std::string(id));
    if (it == jobs_.end()) return std::nullopt;
    return it->second;
}

}  // namespace cas::jobs
