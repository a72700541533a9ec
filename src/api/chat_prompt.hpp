// OpenAI chat messages → the single prompt the CLI reads on stdin. Pure, so every
// mapping is unit-tested.
#pragma once

#include <string>
#include <vector>

namespace cas::api {

struct ChatMessage {
    std::string role;  // system, user, assistant
    std::string content;
};

// The reference app's format: system messages as a preamble, then the user messages,
// sections separated by "---".
std::string synthesise_prompt(const std::vector<ChatMessage>& messages);

}  // namespace cas::api
