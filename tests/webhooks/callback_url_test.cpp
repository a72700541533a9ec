// callback_url and WEBHOOK_ALLOWED_HOSTS: what a URL may look like, how rules read, which
// rule lets a URL through and whether it was listed by name; and the resolved addresses a
// callback under a wildcard may not reach.
#include "webhooks/callback_url.hpp"

#include "webhooks/address_policy.hpp"

#include <catch2/catch.hpp>

using namespace cas::webhooks;

namespace {

CallbackUrl url_of(std::string_view text) {
    auto parsed = parse_callback_url(text);
    INFO(text);
    REQUIRE(std::holds_alternative<CallbackUrl>(parsed));
    return std::get<CallbackUrl>(parsed);
}

std::string problem_with(std::string_view text) {
    auto parsed = parse_callback_url(text);
    INFO(text);
    REQUIRE(std::holds_alternative<std::string>(parsed));
    return std::get<std::string>(parsed);
}

std::vector<HostRule> rules_of(std::string_view text) {
    auto rules = parse_allowed_hosts(text);
    INFO(text);
    REQUIRE(std::holds_alternative<std::vector<HostRule>>(rules));
    return std::get<std::vector<HostRule>>(rules);
}

std::optional<std::string_view> range_of(const char* address) {
    return restricted_range(boost::asio::ip::make_address(address));
}

}  // namespace

TEST_CASE("callback url: the parts a request needs, defaults filled in") {
    auto https = url_of("HTTPS://Hooks.Example.COM/path/to?x=1&y=%20");
    CHECK(https.https);
    CHECK(https.host == "hooks.example.com");
    CHECK_FALSE(https.host_is_address);
    CHECK(https.port == 443);
    CHECK(https.target == "/path/to?x=1&y=%20");
    auto plain = url_of("http://127.0.0.1:8080");
    CHECK_FALSE(plain.https);
    CHECK(plain.host == "127.0.0.1");
    CHECK(plain.host_is_address);
    CHECK(plain.port == 8080);
    CHECK(plain.target == "/");
    auto v6 = url_of("http://[::1]:9/h");
    CHECK(v6.host == "::1");
    CHECK(v6.host_is_address);
}

TEST_CASE("callback url: what is refused, and why") {
    CHECK_THAT(problem_with("ftp://example.com/"), Catch::Contains("http or https"));
    CHECK_THAT(problem_with("file:///etc/passwd"), Catch::Contains("http or https"));
    CHECK_THAT(problem_with("/relative"), Catch::Contains("absolute"));
    CHECK_THAT(problem_with("https://user:pw@example.com/"), Catch::Contains("password"));
    CHECK_THAT(problem_with("https://example.com/#frag"), Catch::Contains("fragment"));
    CHECK_THAT(problem_with("https://example.com:0/"), Catch::Contains("port"));
    CHECK_THAT(problem_with("https://example.com:70000/"), Catch::Contains("port"));
    CHECK_THAT(problem_with("https://exa%6dple.com/"), Catch::Contains("DNS name"));
    CHECK_THAT(problem_with("https://example.com./"), Catch::Contains("DNS name"));
    CHECK_THAT(problem_with("https://[::ffff:127.0.0.1]/"), Catch::Contains("IPv4-mapped"));
    CHECK_THAT(problem_with("https://example.com/a b"), Catch::Contains("absolute"));
    CHECK_THAT(problem_with("https://example.com/\r\nX-Evil: 1"), Catch::Contains("absolute"));
    CHECK_THAT(problem_with("https://" + std::string(2040, 'a') + ".com/"),
               Catch::Contains("2048 bytes"));
}

TEST_CASE("allowed hosts: names, wildcards, addresses, ports") {
    auto rules = rules_of(" hooks.example.com, *.corp.example:8443,127.0.0.1:9000 ,[::1], Local ");
    REQUIRE(rules.size() == 5);
    CHECK(rules[0].host == "hooks.example.com");
    CHECK_FALSE(rules[0].port);
    CHECK(rules[1].wildcard);
    CHECK(rules[1].host == "corp.example");
    CHECK(rules[1].port == 8443);
    CHECK(rules[2].host == "127.0.0.1");
    CHECK(rules[3].host == "::1");
    CHECK(rules[4].host == "local");
    CHECK(rules_of("").empty());
    for (const char* bad :
         {"*.1.2.3.4", "host:0", "host:x", "[::1", "[zz]", "a..b", "*", "http://x"}) {
        INFO(bad);
        CHECK(std::holds_alternative<std::string>(parse_allowed_hosts(bad)));
    }
}

TEST_CASE("allowed hosts: which URLs a rule lets through, and how") {
    auto rules = rules_of("hooks.example.com,*.corp.example:8443,127.0.0.1:9000,[::1]");
    auto match = [&](std::string_view url) { return match_host(rules, url_of(url)); };
    CHECK(match("https://hooks.example.com/x") == HostMatch::listed);
    CHECK(match("http://hooks.example.com:1234/x") == HostMatch::listed);  // any port
    CHECK(match("https://evil-hooks.example.com/") == HostMatch::refused);
    CHECK(match("https://hooks.example.com.evil.net/") == HostMatch::refused);
    CHECK(match("https://a.corp.example:8443/") == HostMatch::wildcard);
    CHECK(match("https://a.b.corp.example:8443/") == HostMatch::wildcard);
    CHECK(match("https://corp.example:8443/") == HostMatch::refused);  // not the suffix itself
    CHECK(match("https://xcorp.example:8443/") == HostMatch::refused);
    CHECK(match("https://a.corp.example/") == HostMatch::refused);  // port 443, not 8443
    CHECK(match("http://127.0.0.1:9000/") == HostMatch::listed);
    CHECK(match("http://127.0.0.1:9001/") == HostMatch::refused);
    CHECK(match("http://[::1]:5/") == HostMatch::listed);
    CHECK(match("http://localhost:9000/") == HostMatch::refused);
    CHECK(match_host({}, url_of("https://hooks.example.com/")) == HostMatch::refused);
}

TEST_CASE("address policy: the machine, its networks and metadata are restricted") {
    CHECK(range_of("127.0.0.1") == "loopback");
    CHECK(range_of("127.255.0.9") == "loopback");
    CHECK(range_of("10.1.2.3") == "private");
    CHECK(range_of("172.16.0.1") == "private");
    CHECK(range_of("172.31.255.255") == "private");
    CHECK(range_of("192.168.1.1") == "private");
    CHECK(range_of("169.254.169.254") == "metadata");
    CHECK(range_of("169.254.1.1") == "link-local");
    CHECK(range_of("100.64.0.1") == "shared (carrier-grade NAT)");
    CHECK(range_of("0.0.0.0") == "unspecified");
    CHECK(range_of("224.0.0.1") == "multicast");
    CHECK(range_of("255.255.255.255") == "reserved");
    CHECK(range_of("::1") == "loopback");
    CHECK(range_of("::") == "unspecified");
    CHECK(range_of("fe80::1") == "link-local");
    CHECK(range_of("fd12:3456::1") == "private");
    CHECK(range_of("fd00:ec2::254") == "metadata");
    CHECK(range_of("::ffff:10.0.0.1") == "private");  // IPv4 in IPv6 clothes
    CHECK(range_of("::ffff:169.254.169.254") == "metadata");
    CHECK(range_of("64:ff9b::7f00:1") == "loopback");
}

TEST_CASE("address policy: public addresses pass") {
    for (const char* address : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1",
                                "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"}) {
        INFO(address);
        CHECK_FALSE(range_of(address));
    }
}

TEST_CASE("address policy: a wildcard host keeps its public addresses; a listed one keeps all") {
    std::vector<boost::asio::ip::address> resolved{boost::asio::ip::make_address("127.0.0.1"),
                                                   boost::asio::ip::make_address("8.8.8.8"),
                                                   boost::asio::ip::make_address("fd00::1")};
    auto wildcard = reachable(resolved, HostMatch::wildcard);
    REQUIRE(wildcard.allowed.size() == 1);
    CHECK(wildcard.allowed[0].to_string() == "8.8.8.8");
    auto listed = reachable(resolved, HostMatch::listed);
    CHECK(listed.allowed == resolved);
    CHECK(listed.refused.empty());
    auto inside =
        reachable({boost::asio::ip::make_address("169.254.169.254")}, HostMatch::wildcard);
    CHECK(inside.allowed.empty());
    CHECK(inside.refused == "169.254.169.254 is metadata");
}
