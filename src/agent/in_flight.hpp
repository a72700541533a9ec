// Every run in flight, whoever started it, so a shutdown can stop them all.
#pragma once

#include "agent/cancellation.hpp"

#include <memory>
#include <set>

namespace cas::agent {

class InFlightRuns {
public:
    // Registered while the returned guard lives.
    class Entry {
    public:
        Entry(InFlightRuns& runs, std::shared_ptr<Cancellation> cancel)
            : runs_(&runs), cancel_(std::move(cancel)) {
            runs_->runs_.insert(cancel_);
        }
        Entry(const Entry&) = delete;
        Entry& operator=(const Entry&) = delete;
        ~Entry() { runs_->runs_.erase(cancel_); }

    private:
        InFlightRuns* runs_;
        std::shared_ptr<Cancellation> cancel_;
    };

    void cancel_all() {
        stopping_ = true;
        for (const auto& cancel : runs_) cancel->request();
    }
    [[nodiscard]] bool stopping() const { return stopping_; }
    [[nodiscard]] std::size_t size() const { return runs_.size(); }

private:
    std::set<std::shared_ptr<Cancellation>> runs_;
    bool stopping_ = false;
};

}  // namespace cas::agent
