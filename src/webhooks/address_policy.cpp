#include "webhooks/address_policy.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdint>

namespace cas::webhooks {
namespace {

struct V4Range {
    std::uint32_t network;
    int prefix;
    std::string_view name;
};

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) {
    return a << 24U | b << 16U | c << 8U | d;
}

// Most specific first: the metadata address is inside link-local.
constexpr std::array<V4Range, 14> kV4Ranges{{
    {v4(169, 254, 169, 254), 32, "metadata"},
    {v4(100, 100, 100, 200), 32, "metadata"},  // Alibaba Cloud's
    {v4(0, 0, 0, 0), 8, "unspecified"},
    {v4(127, 0, 0, 0), 8, "loopback"},
    {v4(10, 0, 0, 0), 8, "private"},
    {v4(172, 16, 0, 0), 12, "private"},
    {v4(192, 168, 0, 0), 16, "private"},
    {v4(100, 64, 0, 0), 10, "shared (carrier-grade NAT)"},
    {v4(169, 254, 0, 0), 16, "link-local"},
    {v4(192, 0, 0, 0), 24, "reserved"},
    {v4(198, 18, 0, 0), 15, "reserved"},
    {v4(224, 0, 0, 0), 4, "multicast"},
    {v4(240, 0, 0, 0), 4, "reserved"},
    {v4(192, 0, 2, 0), 24, "documentation"},
}};

std::optional<std::string_view> v4_range(std::uint32_t address) {
    for (const auto& range : kV4Ranges) {
        auto mask = range.prefix == 0 ? 0U : ~std::uint32_t{0} << (32 - range.prefix);
        if ((address & mask) == range.network) return range.name;
    }
    return std::nullopt;
}

std::uint32_t low_v4(const boost::asio::ip::address_v6::bytes_type& b) {
    return static_cast<std::uint32_t>(b[12]) << 24U | static_cast<std::uint32_t>(b[13]) << 16U |
           static_cast<std::uint32_t>(b[14]) << 8U | b[15];
}

bool prefix_is(const boost::asio::ip::address_v6::bytes_type& b,
               std::initializer_list<unsigned char> prefix) {
    std::size_t i = 0;
    for (auto byte : prefix) {
        if (b[i++] != byte) return false;
    }
    return true;
}

}  // namespace

std::optional<std::string_view> restricted_range(const boost::asio::ip::address& address) {
    if (address.is_v4()) return v4_range(address.to_v4().to_uint());
    auto v6 = address.to_v6();
    auto b = v6.to_bytes();
    if (v6.is_loopback()) return "loopback";
    if (v6.is_unspecified()) return "unspecified";
    // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64).
    if (v6.is_v4_mapped() || prefix_is(b, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) ||
        prefix_is(b, {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0})) {
        return v4_range(low_v4(b));
    }
    if (prefix_is(b, {0xfd, 0x00, 0x0e, 0xc2}) && b[15] == 0x54 && b[14] == 0x02) {
        return "metadata";  // fd00:ec2::254, AWS's
    }
    if ((b[0] & 0xfeU) == 0xfc) return "private";  // fc00::/7, unique local
    if (v6.is_link_local()) return "link-local";
    if (v6.is_site_local()) return "private";  // fec0::/10, deprecated site-local
    if (v6.is_multicast()) return "multicast";
    if (prefix_is(b, {0x20, 0x01, 0x0d, 0xb8})) return "documentation";
    return std::nullopt;
}

ReachableAddresses reachable(const std::vector<boost::asio::ip::address>& resolved,
                             HostMatch match) {
    ReachableAddresses out;
    for (const auto& address : resolved) {
        if (match != HostMatch::listed) {
            if (auto range = restricted_range(address)) {
                out.refused = fmt::format("{} is {}", address.to_string(), *range);
                continue;
            }
        }
        out.allowed.push_back(address);
    }
    return out;
}

}  // namespace cas::webhooks
