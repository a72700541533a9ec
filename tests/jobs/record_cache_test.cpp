#include "jobs/record_cache.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>

using cas::jobs::Job;
using cas::jobs::JobStatus;
using cas::jobs::RecordCache;
using cas::jobs::WebhookState;
using cas::jobs::WebhookStatus;

namespace {

RecordCache::Text text_of(std::size_t bytes, char fill = 'x') {
    return std::make_shared<const std::string>(bytes, fill);
}

}  // namespace

TEST_CASE(
    "record cache: a kept text is found; bytes are bounded, the least recently read "
    "going first") {
    RecordCache cache(100);
    cache.put("a", text_of(40, 'a'));
    cache.put("b", text_of(40, 'b'));
    CHECK(cache.bytes() == 80);
    REQUIRE(cache.find("a"));  // a is now the most recently read: b goes first
    cache.put("c", text_of(40, 'c'));
    CHECK(cache.find("b") == nullptr);
    CHECK(*cache.find("a") == std::string(40, 'a'));
    CHECK(*cache.find("c") == std::string(40, 'c'));
    CHECK(cache.bytes() == 80);
    CHECK(cache.size() == 2);

    cache.put("a", text_of(10, 'A'));  // replaced, not counted twice
    CHECK(*cache.find("a") == std::string(10, 'A'));
    CHECK(cache.bytes() == 50);

    cache.put("huge", text_of(101));  // larger than the whole bound: not kept, nothing dropped
    CHECK(cache.find("huge") == nullptr);
    CHECK(cache.size() == 2);
}

TEST_CASE("record cache: clear drops everything, and a text read before it is not kept after") {
    RecordCache cache(1000);
    cache.put("a", text_of(10));
    auto read_in = cache.generation();
    cache.clear();  // a retention sweep deleted records meanwhile
    CHECK(cache.find("a") == nullptr);
    CHECK(cache.bytes() == 0);
    cache.put_if_current("b", text_of(10), read_in);
    CHECK(cache.find("b") == nullptr);
    cache.put_if_current("b", text_of(10), cache.generation());
    CHECK(cache.find("b") != nullptr);
}

TEST_CASE("record cache: 0 bytes keeps nothing") {
    RecordCache cache(0);
    cache.put("a", text_of(1));
    CHECK(cache.find("a") == nullptr);
}

TEST_CASE("record cache: only a record that can no longer change is settled") {
    Job job;
    for (auto status : {JobStatus::queued, JobStatus::running}) {
        job.status = status;
        CHECK_FALSE(cas::jobs::record_is_settled(job));
    }
    for (auto status : {JobStatus::completed, JobStatus::failed, JobStatus::timeout,
                        JobStatus::cancelled, JobStatus::error, JobStatus::interrupted}) {
        job.status = status;
        CHECK(cas::jobs::record_is_settled(job));
    }
    job.status = JobStatus::completed;
    job.webhook = WebhookState{};
    for (auto [status, settled] :
         {std::pair{WebhookStatus::pending, false}, std::pair{WebhookStatus::failed, false},
          std::pair{WebhookStatus::delivered, true}}) {
        job.webhook->status = status;
        CHECK(cas::jobs::record_is_settled(job) == settled);
    }
}
