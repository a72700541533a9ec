// Base64 against RFC 4648's test vectors, every length round trip, and what decoding refuses.
#include "util/base64.hpp"

#include <catch2/catch.hpp>

#include <string>

TEST_CASE("base64: the RFC 4648 vectors") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        CHECK(cas::base64_encode(plain) == encoded);
        CHECK(cas::base64_decode(encoded) == std::string(plain));
    }
}

TEST_CASE("base64: every byte value and length round-trips") {
    std::string bytes;
    for (int i = 0; i < 300; ++i) {
        bytes += static_cast<char>(i * 7 % 256);
        auto back = cas::base64_decode(cas::base64_encode(bytes));
        REQUIRE(back);
        CHECK(*back == bytes);
    }
}

TEST_CASE("base64: decoding refuses what is not canonical padded base64") {
    for (const char* bad : {"Zg", "Zg=", "Zm9", "Z===", "Zg==Zg==", "Zm9v!A==", "Zh==", "Zm9=",
                            "Zm-v", "Zm_v", "Zm9v\n"}) {
        INFO(bad);
        CHECK_FALSE(cas::base64_decode(bad));
    }
}
