// Standard Webhooks signatures: the specification's own example, a hand-made HMAC through the
// openssl command line, several secrets while rotating, and the secrets refused.
#include "webhooks/signature.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <string>

using namespace cas::webhooks;

namespace {

std::vector<SigningKey> keys_of(const std::string& text) {
    auto keys = parse_signing_keys(text);
    REQUIRE(std::holds_alternative<std::vector<SigningKey>>(keys));
    return std::get<std::vector<SigningKey>>(keys);
}

std::string problem_with(const std::string& text) {
    auto keys = parse_signing_keys(text);
    REQUIRE(std::holds_alternative<std::string>(keys));
    return std::get<std::string>(keys);
}

}  // namespace

TEST_CASE("webhook signature: the Standard Webhooks example verifies") {
    // From the specification's reference implementations' tests.
    auto keys = keys_of("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    CHECK(sign(keys, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})") ==
          "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST_CASE("webhook signature: the same as openssl's HMAC-SHA256 over id.timestamp.body") {
    auto keys = keys_of("whsec_c2VjcmV0LWtleS1vZi0zMi1ieXRlcy1mb3ItdGVzdHM=");
    std::string body = R"({"type":"job.finished","data":{"x":"\u00e9 \"quoted\""}})";
    auto header = sign(keys, "msg_1", 1700000000, body);
    // openssl dgst with the decoded key as hex: "secret-key-of-32-bytes-for-tests".
    std::string hex;
    for (unsigned char c : std::string("secret-key-of-32-bytes-for-tests")) {
        hex += fmt::format("{:02x}", c);
    }
    auto command = fmt::format(
        "printf '%s' 'msg_1.1700000000.{}' | openssl dgst -sha256 -mac HMAC -macopt hexkey:{} "
        "-binary | base64",
        body, hex);
    std::FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::array<char, 128> out{};
    auto read = std::fread(out.data(), 1, out.size() - 1, pipe);
    ::pclose(pipe);
    std::string expected(out.data(), read);
    while (!expected.empty() && expected.back() == '\n') expected.pop_back();
    REQUIRE(expected.size() == 44);
    CHECK(header == "v1," + expected);
}

TEST_CASE("webhook signature: several secrets sign with each, in order") {
    auto both = keys_of(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw  c2VjcmV0LWtleS1vZi0zMi1ieXRlcy1mb3ItdGVzdHM=");
    REQUIRE(both.size() == 2);
    auto first = sign({both[0]}, "msg_x", 1, "{}");
    auto second = sign({both[1]}, "msg_x", 1, "{}");
    CHECK(sign(both, "msg_x", 1, "{}") == first + " " + second);
    CHECK(first != second);
}

TEST_CASE("webhook signature: secrets that are not base64 or too short are refused, unnamed") {
    CHECK_THAT(problem_with("whsec_not base64!"),
               Catch::Contains("secret 1") && Catch::Contains("base64"));
    CHECK_THAT(problem_with("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_c2hvcnQ="),
               Catch::Contains("secret 2") && Catch::Contains("holds 5 bytes"));
    CHECK_THAT(problem_with("   "), Catch::Contains("at least one"));
    auto message = problem_with("whsec_c2hvcnQ=");
    CHECK(message.find("c2hvcnQ") == std::string::npos);  // never echoes the secret
}
