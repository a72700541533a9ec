#include "util/utf8.hpp"

#include <catch2/catch.hpp>

TEST_CASE("utf8: valid and invalid sequences") {
    CHECK(cas::is_valid_utf8("plain"));
    CHECK(cas::is_valid_utf8("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"));
    CHECK_FALSE(cas::is_valid_utf8("\xc3"));              // truncated
    CHECK_FALSE(cas::is_valid_utf8("\xc0\xaf"));          // overlong
    CHECK_FALSE(cas::is_valid_utf8("\xed\xa0\x80"));      // surrogate
    CHECK_FALSE(cas::is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
    CHECK_FALSE(cas::is_valid_utf8("\xff"));
    CHECK(cas::to_valid_utf8("a\xffz") == "a\xef\xbf\xbdz");
    CHECK(cas::to_valid_utf8("ok") == "ok");
}
