// The key's encoding is length-prefixed, so no two different conversations encode the same
// (a text holding a separator cannot pass for two messages).
#include "api/chat_continuation.hpp"

#include "util/sha256.hpp"

namespace cas::api {
namespace {

void append_field(std::string& out, std::string_view field) {
    out += std::to_string(field.size());
    out += ':';
    out += field;
}

std::string encode(std::span<const ChatMessage> messages) {
    std::string out;
    for (const auto& message : messages) {
        append_field(out, message.role);
        append_field(out, message.content);
        append_field(out, message.name);
    }
    return out;
}

std::string label_of(const ChatMessage& message) {
    if (message.role == "tool") {
        return message.name.empty() ? "[tool result]" : "[tool result for " + message.name + "]";
    }
    return "[" + message.role + "]";
}

}  // namespace

std::string conversation_key(std::span<const ChatMessage> messages) {
    return sha256_hex(encode(messages));
}

std::string answered_key(std::span<const ChatMessage> messages, std::string_view answer) {
    auto bytes = encode(messages);
    append_field(bytes, "assistant");
    append_field(bytes, answer);
    append_field(bytes, "");
    return sha256_hex(bytes);
}

std::size_t new_messages_start(std::span<const ChatMessage> messages) {
    for (auto i = messages.size(); i > 0; --i) {
        const auto& role = messages[i - 1].role;
        if (role != "user" && role != "tool") return i;
    }
    return 0;
}

std::string continuation_prompt(std::span<const ChatMessage> new_messages) {
    if (new_messages.size() == 1 && new_messages.front().role == "user") {
        return new_messages.front().content;
    }
    std::string prompt;
    for (const auto& message : new_messages) {
        if (!prompt.empty()) prompt += "\n\n";
        prompt += label_of(message) + "\n" + message.content;
    }
    return prompt;
}

}  // namespace cas::api
