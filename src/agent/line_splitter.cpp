#include "agent/line_splitter.hpp"

namespace cas::agent {

void LineSplitter::feed(std::string_view piece,
                        const std::function<void(std::string_view)>& on_line) {
    while (!piece.empty()) {
        auto newline = piece.find('\n');
        auto part = piece.substr(0, newline);
        if (!skipping_) {
            if (partial_.size() + part.size() > max_line_) {
                skipping_ = true;
                partial_.clear();
            } else {
                partial_.append(part);
            }
        }
        if (newline == std::string_view::npos) return;
        if (!skipping_) on_line(partial_);
        partial_.clear();
        skipping_ = false;
        piece.remove_prefix(newline + 1);
    }
}

}  // namespace cas::agent
