#include "util/random_id.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <set>
#include <stdexcept>
#include <string>

TEST_CASE("random ids: the asked length of lowercase hex, odd lengths too") {
    for (std::size_t length : {0U, 1U, 7U, 12U, 16U, 24U, 64U}) {
        auto id = cas::random_hex(length);
        CHECK(id.size() == length);
        CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    }
    CHECK_THROWS_AS(cas::random_hex(65), std::invalid_argument);
}

TEST_CASE("random ids: no repeats and every digit used, across many refills of the pool") {
    // 20,000 ids of 8 bytes each draw the 256-byte pool hundreds of times over.
    std::set<std::string> seen;
    std::array<int, 16> digits{};
    for (int i = 0; i < 20000; ++i) {
        auto id = cas::random_hex(16);
        for (char c : id) ++digits.at(static_cast<std::size_t>(c <= '9' ? c - '0' : c - 'a' + 10));
        seen.insert(std::move(id));
    }
    CHECK(seen.size() == 20000);
    // 320,000 digits: each of the 16 expected 20,000 times; 19,000 is > 7 sigma away.
    for (int count : digits) CHECK(count > 19000);
}
