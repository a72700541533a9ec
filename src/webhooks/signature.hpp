// Standard Webhooks signatures (standardwebhooks.com): HMAC-SHA256 keyed with the operator's
// secret over "<webhook-id>.<webhook-timestamp>.<body>", sent as "v1,<base64>", one per
// secret (space-separated) while secrets rotate. Receivers verify with the published
// libraries (the `standardwebhooks` npm package among them). Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cas::webhooks {

struct SigningKey {
    std::string bytes;  // the secret's decoded bytes
};

// WEBHOOK_SECRET: one or more secrets separated by spaces, each "whsec_" + base64 (as the
// spec and its libraries write them; the prefix may be left out) of at least 16 bytes.
// The keys, or what is wrong (never the secret itself).
std::variant<std::vector<SigningKey>, std::string> parse_signing_keys(std::string_view text);

// The webhook-signature header's value for this message.
std::string sign(const std::vector<SigningKey>& keys, std::string_view id, std::int64_t timestamp,
                 std::string_view body);

}  // namespace cas::webhooks
