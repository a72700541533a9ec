#include "jobs/record_cache.hpp"

namespace cas::jobs {

bool record_is_settled(const Job& job) {
    if (!is_finished(job.status)) return false;
    return !job.webhook || job.webhook->status == WebhookStatus::delivered;
}

RecordCache::Text RecordCache::find(std::string_view id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->text;
}

void RecordCache::put(const std::string& id, Text text) {
    if (!text || text->size() > max_bytes_) return;
    if (auto it = entries_.find(id); it != entries_.end()) {
        bytes_ -= it->second->text->size();
        order_.erase(it->second);
        entries_.erase(it);
    }
    while (bytes_ + text->size() > max_bytes_ && !order_.empty()) {
        auto& last = order_.back();
        bytes_ -= last.text->size();
        entries_.erase(last.id);
        order_.pop_back();
    }
    bytes_ += text->size();
    order_.push_front(Entry{id, std::move(text)});
    entries_.emplace(order_.front().id, order_.begin());
}

void RecordCache::clear() {
    entries_.clear();
    order_.clear();
    bytes_ = 0;
    ++generation_;
}

}  // namespace cas::jobs
