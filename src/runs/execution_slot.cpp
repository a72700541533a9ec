// Holding the slot = one message sitting in the channel's single buffer slot. try_send
// succeeds only when the buffer is empty; releasing takes the message back out.
#include "runs/execution_slot.hpp"

#include "util/async.hpp"

#include <boost/asio/experimental/channel.hpp>

namespace cas::runs {

// Built in place: the channel's move constructor does not compile in Boost 1.81.
struct ExecutionSlot::Channel {
    explicit Channel(const boost::asio::any_io_executor& executor) : channel(executor, 1) {}
    boost::asio::experimental::channel<void(boost::system::error_code)> channel;
};

ExecutionSlot::ExecutionSlot(const boost::asio::any_io_executor& executor)
    : channel_(std::make_unique<Channel>(executor)) {}

ExecutionSlot::~ExecutionSlot() = default;

std::optional<ExecutionSlot::Permit> ExecutionSlot::try_acquire() {
    if (!channel_->channel.try_send(boost::system::error_code{})) return std::nullopt;
    return Permit(this);
}

bool ExecutionSlot::busy() const {
    return channel_->channel.ready();
}

ExecutionSlot::Permit& ExecutionSlot::Permit::operator=(Permit&& other) noexcept {
    if (this != &other) {
        release();
        slot_ = std::exchange(other.slot_, nullptr);
    }
    return *this;
}

void ExecutionSlot::Permit::release() {
    if (slot_ == nullptr) return;
    slot_->channel_->channel.try_receive([](boost::system::error_code) {});
    slot_ = nullptr;
}

}  // namespace cas::runs
