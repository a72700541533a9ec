// The single execution slot shared by jobs and completions: at most one agent run at a
// time, as in the reference app. A capacity-1 channel is the semaphore; a Permit is the
// RAII proof of holding it, so no path (exception, timeout, cancelled coroutine) can leak it.
#pragma once

#include "agent/cancellation.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>

namespace cas::runs {

class ExecutionSlot {
public:
    class Permit {
    public:
        Permit(Permit&& other) noexcept : slot_(std::exchange(other.slot_, nullptr)) {}
        Permit& operator=(Permit&& other) noexcept;
        Permit(const Permit&) = delete;
        Permit& operator=(const Permit&) = delete;
        ~Permit() { release(); }

    private:
        friend class ExecutionSlot;
        explicit Permit(ExecutionSlot* slot) : slot_(slot) {}
        void release();
        ExecutionSlot* slot_;
    };

    explicit ExecutionSlot(const boost::asio::any_io_executor& executor);
    ~ExecutionSlot();
    ExecutionSlot(const ExecutionSlot&) = delete;
    ExecutionSlot& operator=(const ExecutionSlot&) = delete;

    // A permit if the slot is free, without waiting (waiting, and in what order, is the run
    // service's: runs/run_service.hpp).
    std::optional<Permit> try_acquire();
    [[nodiscard]] bool busy() const;

private:
    struct Channel;
    std::unique_ptr<Channel> channel_;
};

}  // namespace cas::runs
