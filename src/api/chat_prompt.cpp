#include "api/chat_prompt.hpp"

namespace cas::api {
namespace {

std::string join(const std::vector<ChatMessage>& messages, const std::string& role) {
    std::string out;
    for (const auto& m : messages) {
        if (m.role != role) continue;
        if (!out.empty()) out += "\n\n";
        out += m.content;
    }
    return out;
}

}  // namespace

std::string synthesise_prompt(const std::vector<ChatMessage>& messages) {
    auto system = join(messages, "system");
    auto user = join(messages, "user");
    std::string prompt;
    if (!system.empty()) prompt = "System instructions:\n" + system;
    if (!user.empty()) {
        if (!prompt.empty()) prompt += "\n\n---\n\n";
        prompt += "Request:\n" + user;
    }
    return prompt;
}

}  // namespace cas::api
