#include "webhooks/callback_url.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace cas::webhooks {
namespace {

std::string lowercase(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return out;
}

// A DNS name as it may appear in a URL and a rule: labels of letters, digits and '-', none
// empty (so no trailing dot: "a.example.com." would slip past a rule for the name).
bool is_host_name(std::string_view name) {
    if (name.empty() || name.size() > 253) return false;
    std::size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok || ++label > 63) return false;
    }
    return label > 0;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() || value == 0 ||
        value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

}  // namespace

std::variant<CallbackUrl, std::string> parse_callback_url(std::string_view text) {
    if (text.size() > kMaxCallbackUrlBytes) {
        return fmt::format("must be at most {} bytes", kMaxCallbackUrlBytes);
    }
    auto parsed = boost::urls::parse_uri(text);
    if (!parsed) return "must be an absolute http or https URL";
    auto url = *parsed;
    CallbackUrl out;
    auto scheme = lowercase(url.scheme());
    if (scheme != "http" && scheme != "https") return "must be an http or https URL";
    out.https = scheme == "https";
    if (!url.has_authority() || url.encoded_host().empty()) return "must name a host";
    if (url.has_userinfo()) return "must not hold a user name or password";
    if (url.has_fragment()) return "must not have a fragment (#...)";
    switch (url.host_type()) {
        case boost::urls::host_type::ipv4: out.host = url.host_address(); break;
        case boost::urls::host_type::ipv6: {
            auto address = url.host_ipv6_address();
            if (address.is_v4_mapped()) return "must not be an IPv4-mapped IPv6 address";
            out.host = address.to_string();
            break;
        }
        case boost::urls::host_type::name:
            out.host = lowercase(url.encoded_host());
            if (!is_host_name(out.host)) {
                return "host must be a DNS name (letters, digits, '-' and '.') or an IP address";
            }
            break;
        default: return "host must be a DNS name or an IP address";
    }
    out.host_is_address = url.host_type() != boost::urls::host_type::name;
    if (url.has_port()) {
        auto port = parse_port(url.port());
        if (!port) return "port must be from 1 to 65535";
        out.port = *port;
    } else {
        out.port = out.https ? 443 : 80;
    }
    out.target = url.encoded_path().empty() ? "/" : std::string(url.encoded_path());
    if (url.has_query()) {
        out.target += '?';
        out.target += url.encoded_query();
    }
    // The request line takes these bytes as they are: nothing that could end it or a header.
    if (std::any_of(out.target.begin(), out.target.end(),
                    [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
        return "must not contain spaces or control characters";
    }
    return out;
}

std::variant<std::vector<HostRule>, std::string> parse_allowed_hosts(std::string_view text) {
    std::vector<HostRule> rules;
    while (!text.empty()) {
        auto comma = text.find(',');
        auto entry = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
        while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
        if (entry.empty()) continue;
        HostRule rule;
        std::string_view host = entry;
        std::optional<std::string_view> port;
        if (entry.front() == '[') {
            auto close = entry.find(']');
            if (close == std::string_view::npos) return fmt::format("'{}': no closing ]", entry);
            host = entry.substr(1, close - 1);
            auto rest = entry.substr(close + 1);
            if (!rest.empty()) {
                if (rest.front() != ':') return fmt::format("'{}': expected :port after ]", entry);
                port = rest.substr(1);
            }
            boost::system::error_code ec;
            auto address = boost::asio::ip::make_address_v6(std::string(host), ec);
            if (ec) return fmt::format("'{}': not an IPv6 address", entry);
            rule.host = address.to_string();
        } else {
            if (auto colon = entry.rfind(':'); colon != std::string_view::npos) {
                host = entry.substr(0, colon);
                port = entry.substr(colon + 1);
            }
            if (host.starts_with("*.")) {
                rule.wildcard = true;
                host.remove_prefix(2);
            }
            rule.host = lowercase(host);
            boost::system::error_code ec;
            auto address = boost::asio::ip::make_address_v4(rule.host, ec);
            if (!ec) {
                if (rule.wildcard) return fmt::format("'{}': a wildcard takes a name", entry);
                rule.host = address.to_string();
            } else if (!is_host_name(rule.host)) {
                return fmt::format(
                    "'{}': expected a host name, *.name, an IP address ([...] for IPv6), "
                    "each with an optional :port",
                    entry);
            }
        }
        if (port) {
            rule.port = parse_port(*port);
            if (!rule.port) return fmt::format("'{}': port must be from 1 to 65535", entry);
        }
        rules.push_back(std::move(rule));
    }
    return rules;
}

HostMatch match_host(const std::vector<HostRule>& rules, const CallbackUrl& url) {
    auto match = HostMatch::refused;
    for (const auto& rule : rules) {
        if (rule.port && *rule.port != url.port) continue;
        if (!rule.wildcard && rule.host == url.host) return HostMatch::listed;
        if (rule.wildcard && !url.host_is_address && url.host.size() > rule.host.size() + 1 &&
            url.host.ends_with(rule.host) &&
            url.host[url.host.size() - rule.host.size() - 1] == '.') {
            match = HostMatch::wildcard;
        }
    }
    return match;
}

}  // namespace cas::webhooks
