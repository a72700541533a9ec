// A loop's store failures, logged when they start and when they end, not once a round while
// a database is down: the job registry's loops and the webhook sender poll the store.
#pragma once

#include "jobs/job_store.hpp"
#include "telemetry/log.hpp"

namespace cas::jobs {

class StoreOutage {
public:
    explicit StoreOutage(const char* what) : what_(what) {}
    void failed(const std::exception& e) {
        if (!down_) log::error(what_, {{"error", e.what()}});
        down_ = true;
    }
    void ok() {
        if (down_) log::info("the job store answers again", {{"after", what_}});
        down_ = false;
    }

private:
    const char* what_;
    bool down_ = false;
};

}  // namespace cas::jobs
