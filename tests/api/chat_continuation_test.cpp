// The key that decides whether a chat request continues an earlier answer's session: exact,
// ordered, and the same whether it is computed from the answer (answered_key) or from the
// next request's history (conversation_key).
#include "api/chat_continuation.hpp"

#include <catch2/catch.hpp>

using namespace cas::api;

namespace {

ChatMessage msg(std::string role, std::string content, std::string name = {}) {
    return {std::move(role), std::move(content), std::move(name)};
}

}  // namespace

TEST_CASE("continuation: an answer's key is the key of the next request's history") {
    std::vector<ChatMessage> first{msg("system", "be brief"), msg("user", "hello")};
    auto remembered = answered_key(first, "hi there");
    std::vector<ChatMessage> second = first;
    second.push_back(msg("assistant", "hi there"));
    second.push_back(msg("user", "and now?"));
    auto start = new_messages_start(second);
    CHECK(start == 3);
    CHECK(conversation_key(std::span(second).first(start)) == remembered);
    CHECK(remembered.size() == 64);
}

TEST_CASE("continuation: any change to the history is another key") {
    std::vector<ChatMessage> base{msg("system", "be brief"), msg("user", "hello"),
                                  msg("assistant", "hi")};
    auto key = conversation_key(base);
    auto changed = [&](auto edit) {
        auto copy = base;
        edit(copy);
        return conversation_key(copy) != key;
    };
    CHECK(changed([](auto& m) { m[1].content = "hello!"; }));       // an edited message
    CHECK(changed([](auto& m) { m[0].content = "be long"; }));      // another system prompt
    CHECK(changed([](auto& m) { m.erase(m.begin()); }));            // no system prompt
    CHECK(changed([](auto& m) { std::swap(m[0], m[1]); }));         // another order
    CHECK(changed([](auto& m) { m[2].role = "user"; }));            // another role
    CHECK(changed([](auto& m) { m[2].name = "call_1"; }));          // tool calls made
    CHECK(changed([](auto& m) { m.push_back(msg("user", "")); }));  // one more, even empty
    CHECK_FALSE(changed([](auto&) {}));
    // Length-prefixed: a text holding what looks like a separator is not two messages.
    std::vector<ChatMessage> one{msg("user", "a5:user1:b0:")};
    std::vector<ChatMessage> two{msg("user", "a"), msg("user", "b")};
    CHECK(conversation_key(one) != conversation_key(two));
}

TEST_CASE("continuation: the new messages are the trailing user and tool ones") {
    std::vector<ChatMessage> only_user{msg("system", "s"), msg("user", "u")};
    CHECK(new_messages_start(only_user) == 1);  // the system message is a history of its own
    std::vector<ChatMessage> plain{msg("user", "u")};
    CHECK(new_messages_start(plain) == 0);  // nothing before: nothing to continue
    std::vector<ChatMessage> tools{msg("user", "u"), msg("assistant", "", "call_1"),
                                   msg("tool", "42", "call_1"), msg("user", "thanks")};
    CHECK(new_messages_start(tools) == 2);
    std::vector<ChatMessage> ends_with_assistant{msg("user", "u"), msg("assistant", "a")};
    CHECK(new_messages_start(ends_with_assistant) == 2);
}

TEST_CASE("continuation: a lone user message goes as it is, several under their labels") {
    std::vector<ChatMessage> lone{msg("user", "next question")};
    CHECK(continuation_prompt(lone) == "next question");
    std::vector<ChatMessage> several{msg("tool", "42", "call_1"), msg("user", "thanks")};
    CHECK(continuation_prompt(several) == "[tool result for call_1]\n42\n\n[user]\nthanks");
}
