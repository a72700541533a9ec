#include "webhooks/signature.hpp"

#include "util/base64.hpp"

#include <fmt/format.h>

#include <array>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdexcept>

namespace cas::webhooks {

std::variant<std::vector<SigningKey>, std::string> parse_signing_keys(std::string_view text) {
    constexpr std::size_t kMinKeyBytes = 16;
    std::vector<SigningKey> keys;
    std::size_t position = 0;
    while (!text.empty()) {
        auto space = text.find(' ');
        auto secret = text.substr(0, space);
        text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
        if (secret.empty()) continue;
        ++position;
        if (secret.starts_with("whsec_")) secret.remove_prefix(6);
        auto bytes = base64_decode(secret);
        if (!bytes) {
            return fmt::format("secret {} is not whsec_ followed by base64", position);
        }
        if (bytes->size() < kMinKeyBytes) {
            return fmt::format(
                "secret {} holds {} bytes; at least {} are needed (e.g. "
                "whsec_$(head -c 32 /dev/urandom | base64))",
                position, bytes->size(), kMinKeyBytes);
        }
        keys.push_back({std::move(*bytes)});
    }
    if (keys.empty()) return "must hold at least one secret";
    return keys;
}

std::string sign(const std::vector<SigningKey>& keys, std::string_view id, std::int64_t timestamp,
                 std::string_view body) {
    auto content = fmt::format("{}.{}.{}", id, timestamp, body);
    std::string header;
    for (const auto& key : keys) {
        std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
        unsigned int length = 0;
        const auto* done = HMAC(EVP_sha256(), key.bytes.data(), static_cast<int>(key.bytes.size()),
                                reinterpret_cast<const unsigned char*>(content.data()),  // NOLINT
                                content.size(), digest.data(), &length);
        if (done == nullptr) throw std::runtime_error("HMAC-SHA256 failed");
        if (!header.empty()) header += ' ';
        header += "v1,";
        header += base64_encode(
            std::string_view(reinterpret_cast<const char*>(digest.data()), length));  // NOLINT
    }
    return header;
}

}  // namespace cas::webhooks
