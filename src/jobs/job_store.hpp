// Where job records live. Behind a small interface so the in-memory store can give way to
// a persistent one without touching the job logic or the API.
#pragma once

#include "jobs/job.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cas::jobs {

class JobStore {
public:
    virtual ~JobStore() = default;
    // Inserts or replaces the record with this id.
    virtual void save(const Job& job) = 0;
    [[nodiscard]] virtual std::optional<Job> find(std::string_view id) const = 0;
};

class MemoryJobStore final : public JobStore {
public:
    void save(const Job& job) override;
    [[nodiscard]] std::optional<Job> find(std::string_view id) const override;

private:
    std::unordered_map<std::string, Job> jobs_;
};

}  // namespace cas::jobs
