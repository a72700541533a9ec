// Shaping responses: JSON bodies and the two error dialects. Routes under /v1 speak
// OpenAI's error object; the rest speak the reference app's FastAPI `{"detail": ...}`.
#pragma once

#include "http/message.hpp"

#include <boost/json/fwd.hpp>

#include <string_view>

namespace cas::http {

enum class ErrorDialect { detail, openai };

// The dialect for a request path (by its first segment).
ErrorDialect dialect_for(const std::vector<std::string>& segments);

Response json_response(unsigned status, const boost::json::value& body);

// {"detail": message} or {"error": {"message", "type", "param", "code"}}.
// `param`/`code` are only used by the OpenAI dialect (empty → null).
Response error_response(ErrorDialect dialect, unsigned status, std::string_view message,
                        std::string_view param = {}, std::string_view code = {});

// The OpenAI error body alone, for answers that add to it.
boost::json::object openai_error_body(unsigned status, std::string_view message,
                                      std::string_view param = {}, std::string_view code = {});

// The reference app's 401 with WWW-Authenticate.
Response unauthorized(ErrorDialect dialect, std::string_view message);

}  // namespace cas::http
