// Finished job records as the JSON text GET /jobs/{id} answers with, so that polling a job
// that has ended reads no database, parses nothing and serializes nothing. Bounded by the
// bytes of the texts kept; the least recently read goes first. Only a record that can no
// longer change is kept (record_is_settled); the only change left to it is its deletion by
// the retention sweep, which clears the cache (on every replica of a shared store: the
// store tells them).
#pragma once

#include "jobs/job.hpp"

#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cas::jobs {

// Final, with no webhook or one delivered: a delivery pending or failed is still written to
// (its attempts, a retry).
bool record_is_settled(const Job& job);

class RecordCache {
public:
    using Text = std::shared_ptr<const std::string>;

    // 0 keeps nothing.
    explicit RecordCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

    // The text kept for `id` (now the most recently read), or null.
    Text find(std::string_view id);
    // Keeps `text` for `id`, making room by dropping the least recently read; a text larger
    // than the whole bound is not kept.
    void put(const std::string& id, Text text);
    // Drops everything; put() of a text read before the clear (an older generation) is then
    // ignored, so a record deleted meanwhile cannot come back.
    void clear();
    [[nodiscard]] std::size_t generation() const { return generation_; }
    void put_if_current(const std::string& id, Text text, std::size_t read_in_generation) {
        if (read_in_generation == generation_) put(id, std::move(text));
    }

    [[nodiscard]] std::size_t bytes() const { return bytes_; }
    [[nodiscard]] std::size_t size() const { return entries_.size(); }

private:
    struct Entry {
        std::string id;
        Text text;
    };
    using Order = std::list<Entry>;  // most recently read first

    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::size_t generation_ = 0;
    Order order_;
    std::unordered_map<std::string_view, Order::iterator> entries_;  // keys view order_'s ids
};

}  // namespace cas::jobs
