#include "runs/execution_slot.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

using cas::runs::ExecutionSlot;

TEST_CASE("slot: one permit at a time, released by RAII") {
    boost::asio::io_context io;
    ExecutionSlot slot(io.get_executor());
    CHECK_FALSE(slot.busy());
    {
        auto permit = slot.try_acquire();
        REQUIRE(permit);
        CHECK(slot.busy());
        CHECK_FALSE(slot.try_acquire());
    }
    CHECK_FALSE(slot.busy());
    CHECK(slot.try_acquire());
}

TEST_CASE("slot: a moved permit releases once, from its new owner") {
    boost::asio::io_context io;
    ExecutionSlot slot(io.get_executor());
    auto first = slot.try_acquire();
    REQUIRE(first);
    std::optional<ExecutionSlot::Permit> moved(std::move(*first));
    first.reset();
    CHECK(slot.busy());
    moved.reset();
    CHECK_FALSE(slot.busy());
}

TEST_CASE("slot: released when an exception unwinds the holder") {
    boost::asio::io_context io;
    ExecutionSlot slot(io.get_executor());
    try {
        auto permit = slot.try_acquire();
        throw std::runtime_error("boom");
    } catch (const std::runtime_error&) {
    }
    CHECK_FALSE(slot.busy());
}
