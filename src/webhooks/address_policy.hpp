// Which resolved addresses a callback may not reach unless its host is listed by name in
// WEBHOOK_ALLOWED_HOSTS (callback_url.hpp: HostMatch::listed): the machine itself, its
// networks and the cloud's metadata service. A name under a `*.` rule that resolves to one
// of them is refused (DNS rebinding, or a name pointed inside by whoever controls it).
#pragma once

#include "webhooks/callback_url.hpp"

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cas::webhooks {

// The range `address` is in ("loopback", "private", "link-local", "metadata", ...), or
// nothing for a public address. IPv6 forms that carry an IPv4 address (mapped, compatible,
// NAT64) are judged by that address.
std::optional<std::string_view> restricted_range(const boost::asio::ip::address& address);

// What a callback may connect to of the addresses its host resolved to: all of them for a
// host listed by name, the public ones for a host under a `*.` rule; and the last one
// refused, said why ("10.0.0.1 is private"), for the error when none is left.
struct ReachableAddresses {
    std::vector<boost::asio::ip::address> allowed;
    std::string refused;
};
ReachableAddresses reachable(const std::vector<boost::asio::ip::address>& resolved,
                             HostMatch match);

}  // namespace cas::webhooks
