// Chat conversations continued in the CLI's own sessions. An OpenAI client sends the whole
// history every turn; when a request's history (its messages minus the trailing user and
// tool ones) is exactly an earlier completion's messages plus that completion's answer, the
// run resumes that completion's session and the CLI is given only the new messages. Exactly:
// the key is a SHA-256 of the roles, texts and names in order, so an edited message, another
// system prompt or a history this service has not answered is another key (a fresh run with
// the transcript prompt). Pure; the store keeps key → session (sessions/).
#pragma once

#include "api/chat_request.hpp"

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cas::api {

// 64 hex characters: the SHA-256 of the messages' roles, texts and names, in order.
std::string conversation_key(std::span<const ChatMessage> messages);

// The key a completion is remembered by: its request's messages and then its answer.
std::string answered_key(std::span<const ChatMessage> messages, std::string_view answer);

// Where a request's new messages begin: after the last message that is neither a user's nor
// a tool result. Zero when there is no such message (nothing to continue).
std::size_t new_messages_start(std::span<const ChatMessage> messages);

// What a resumed session's CLI is given: a lone user message as it is; otherwise each new
// message under its label, as the transcript prompt writes its history.
std::string continuation_prompt(std::span<const ChatMessage> new_messages);

}  // namespace cas::api
