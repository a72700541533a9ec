// Reassembling stdout lines from the pieces a pipe delivers, for consumers that act on
// each line as it arrives (streamed completions, live job events).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace cas::agent {

// Reassembles lines from stdout pieces. A line longer than `max_line` is dropped whole
// (it cannot be a text delta worth streaming; the final result is parsed separately).
class LineSplitter {
public:
    explicit LineSplitter(std::size_t max_line = 8U * 1024U * 1024U) : max_line_(max_line) {}
    void feed(std::string_view piece, const std::function<void(std::string_view)>& on_line);

private:
    std::string partial_;
    std::size_t max_line_;
    bool skipping_ = false;
};

}  // namespace cas::agent
