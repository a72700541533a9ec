// Shaping responses: JSON bodies and the three error dialects. Routes under /v1/messages speak
// Anthropic's error object, the rest of /v1 OpenAI's; the others the reference app's FastAPI
// `{"detail": ...}`.
#pragma once

#include "http/message.hpp"

#include <boost/json/fwd.hpp>

#include <string_view>

namespace cas::http {

enum class ErrorDialect { detail, openai, anthropic };

// The dialect for a request path (by its first segment).
ErrorDialect dialect_for(const std::vector<std::string>& segments);

Response json_response(unsigned status, const boost::json::value& body);

// {"detail": message}, {"error": {"message", "type", "param", "code"}} or
// {"type": "error", "error": {"type", "message"}}. `param`/`code` are only used by the OpenAI
// dialect (empty → null).
Response error_response(ErrorDialect dialect, unsigned status, std::string_view message,
                        std::string_view param = {}, std::string_view code = {});

// The OpenAI error body alone, for answers that add to it.
boost::json::object openai_error_body(unsigned status, std::string_view message,
                                      std::string_view param = {}, std::string_view code = {});

// Anthropic's error type for a status (529: overloaded_error).
std::string_view anthropic_error_type(unsigned status);

// The reference app's 401 with WWW-Authenticate.
Response unauthorized(ErrorDialect dialect, std::string_view message);

}  // namespace cas::http
