// Bearer-token check with the reference app's three answers. Runs on the request headers
// alone, before the server reads the body, so anonymous callers learn nothing of the schema.
#pragma once

#include <optional>
#include <string_view>

namespace cas::http {

enum class AuthOutcome { ok, unconfigured, missing, invalid };

// `authorization` is the Authorization header if present; `token` the configured secret.
AuthOutcome check_bearer(std::optional<std::string_view> authorization, std::string_view token);

// check_bearer, or the token in `x-api-key` when that header is sent (it wins).
AuthOutcome check_api_key(std::optional<std::string_view> x_api_key,
                          std::optional<std::string_view> authorization, std::string_view token);

// The `detail` text of a 401 for this outcome (the reference app's wording).
std::string_view auth_failure_message(AuthOutcome outcome);

// Equality whose running time depends only on `secret`'s length, not on where bytes differ.
bool constant_time_equals(std::string_view candidate, std::string_view secret);

}  // namespace cas::http
