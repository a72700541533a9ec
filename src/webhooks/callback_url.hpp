// A job's callback_url and the operator's WEBHOOK_ALLOWED_HOSTS: which URLs a caller may name,
// decided from the text alone (the addresses a name resolves to are checked when sending:
// address_policy.hpp). Pure: unit-tested and fuzzed directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cas::webhooks {

inline constexpr std::size_t kMaxCallbackUrlBytes = 2048;

struct CallbackUrl {
    bool https = false;
    std::string host;  // lowercase name, or an IP address (IPv6 without brackets)
    bool host_is_address = false;
    std::uint16_t port = 0;  // as given, or the scheme's default
    std::string target;      // path and query, as sent in the request line ("/" at least)
};

// The URL, or what is wrong with it: http or https only, a host, no user name or password
// (they would be kept in the record and the logs), no fragment, at most 2048 bytes.
std::variant<CallbackUrl, std::string> parse_callback_url(std::string_view text);

// One entry of WEBHOOK_ALLOWED_HOSTS: `name`, `*.suffix` (any name under it, not the suffix
// itself), either with `:port` to allow that port only; an IP address (IPv6 in brackets)
// likewise.
struct HostRule {
    std::string host;  // the name, the suffix after "*.", or the address
    bool wildcard = false;
    std::optional<std::uint16_t> port;
};

// Comma-separated entries; empty text: no rules (callbacks off).
std::variant<std::vector<HostRule>, std::string> parse_allowed_hosts(std::string_view text);

enum class HostMatch {
    refused,   // no rule names it
    wildcard,  // a `*.` rule: the addresses it resolves to must be public
    listed,    // named exactly: the operator chose it, private addresses included
};
HostMatch match_host(const std::vector<HostRule>& rules, const CallbackUrl& url);

}  // namespace cas::webhooks
