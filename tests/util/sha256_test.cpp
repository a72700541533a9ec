// SHA-256 against the FIPS 180-4 examples and, at every length around the block and padding
// boundaries, against coreutils' sha256sum.
#include "util/sha256.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdio>

namespace {

std::string sha256sum(const cas::test::TempDir& dir, const std::string& bytes) {
    dir.write("in", bytes);
    std::string command = "sha256sum " + (dir.path / "in").string();
    std::FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::array<char, 65> digest{};
    auto read = std::fread(digest.data(), 1, 64, pipe);
    ::pclose(pipe);
    REQUIRE(read == 64);
    return {digest.data(), 64};
}

}  // namespace

TEST_CASE("sha256: the FIPS 180-4 examples") {
    CHECK(cas::sha256_hex("") ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(cas::sha256_hex("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(cas::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(cas::sha256_hex(std::string(1000000, 'a')) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: every length across the padding boundaries, as sha256sum computes it") {
    cas::test::TempDir dir;
    for (std::size_t size : {1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000}) {
        std::string bytes;
        for (std::size_t i = 0; i < size; ++i) bytes += static_cast<char>((i * 131 + 7) % 256);
        INFO("size " << size);
        CHECK(cas::sha256_hex(bytes) == sha256sum(dir, bytes));
    }
}
