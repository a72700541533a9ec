#include "util/base64.hpp"

#include <array>
#include <cstdint>

namespace cas {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> kValues = [] {
    std::array<std::int8_t, 256> values{};
    values.fill(-1);
    for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
        values[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
    }
    return values;
}();

}  // namespace

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16U |
                          static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1]))
                              << 8U |
                          static_cast<unsigned char>(bytes[i + 2]);
        out += kAlphabet[n >> 18U & 63U];
        out += kAlphabet[n >> 12U & 63U];
        out += kAlphabet[n >> 6U & 63U];
        out += kAlphabet[n & 63U];
    }
    if (auto rest = bytes.size() - i; rest > 0) {
        std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16U;
        if (rest == 2)
            n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8U;
        out += kAlphabet[n >> 18U & 63U];
        out += kAlphabet[n >> 12U & 63U];
        out += rest == 2 ? kAlphabet[n >> 6U & 63U] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        bool last = i + 4 == text.size();
        std::uint32_t n = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            char c = text[i + j];
            if (last && c == '=' && j >= 4 - padding) {
                n <<= 6U;
                continue;
            }
            auto value = kValues[static_cast<unsigned char>(c)];
            if (value < 0) return std::nullopt;
            n = n << 6U | static_cast<std::uint32_t>(value);
        }
        out += static_cast<char>(n >> 16U & 0xFFU);
        if (!last || padding < 2) out += static_cast<char>(n >> 8U & 0xFFU);
        if (!last || padding < 1) out += static_cast<char>(n & 0xFFU);
        // Canonical only: the bits the padding stands for must be zero.
        if (last && ((padding == 1 && (n & 0xFFU) != 0) || (padding == 2 && (n & 0xFFFFU) != 0))) {
            return std::nullopt;
        }
    }
    return out;
}

}  // namespace cas
