// The reference app's verify_token, minus its 500 on non-ASCII headers: every byte of the
// header is checked, and anything that is not a printable-ASCII token is simply "Invalid".
#include "http/auth.hpp"

#include <cstdint>

namespace cas::http {
namespace {

constexpr std::string_view kScheme = "Bearer ";

bool printable_ascii(std::string_view text) {
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (byte < 0x21 || byte > 0x7e) return false;
    }
    return true;
}

}  // namespace

bool constant_time_equals(std::string_view candidate, std::string_view secret) {
    // Walk the secret's length whatever the candidate is; fold the length difference in.
    auto diff = static_cast<std::uint64_t>(candidate.size() ^ secret.size());
    for (std::size_t i = 0; i < secret.size(); ++i) {
        auto c =
            candidate.empty() ? 0U : static_cast<unsigned char>(candidate[i % candidate.size()]);
        diff |= c ^ static_cast<unsigned char>(secret[i]);
    }
    return diff == 0;
}

AuthOutcome check_bearer(std::optional<std::string_view> authorization, std::string_view token) {
    // An empty configured token would otherwise match an empty presented one.
    if (token.empty()) return AuthOutcome::unconfigured;
    if (!authorization || !authorization->starts_with(kScheme)) return AuthOutcome::missing;
    auto presented = authorization->substr(kScheme.size());
    if (!printable_ascii(presented)) return AuthOutcome::invalid;
    return constant_time_equals(presented, token) ? AuthOutcome::ok : AuthOutcome::invalid;
}

AuthOutcome check_api_key(std::optional<std::string_view> x_api_key,
                          std::optional<std::string_view> authorization, std::string_view token) {
    if (!x_api_key) return check_bearer(authorization, token);
    if (token.empty()) return AuthOutcome::unconfigured;
    if (!printable_ascii(*x_api_key)) return AuthOutcome::invalid;
    return constant_time_equals(*x_api_key, token) ? AuthOutcome::ok : AuthOutcome::invalid;
}

std::string_view auth_failure_message(AuthOutcome outcome) {
    switch (outcome) {
        case AuthOutcome::unconfigured: return "Service unauthenticated";
        case AuthOutcome::missing: return "Missing bearer token";
        case AuthOutcome::invalid: return "Invalid token";
        case AuthOutcome::ok: break;
    }
    return "";
}

}  // namespace cas::http
