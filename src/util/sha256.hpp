// SHA-256 (FIPS 180-4), for keys the service derives from text (chat conversations). Here
// rather than from libcrypto: linking it costs the idle service ~1.5 MiB of RSS for one
// digest (docs/BENCHMARKS.md). Tested against the FIPS vectors and coreutils' sha256sum.
#pragma once

#include <string>
#include <string_view>

namespace cas {

// The digest of `bytes`, as 64 lowercase hex characters.
std::string sha256_hex(std::string_view bytes);

}  // namespace cas
