// getrandom(2) never blocks once the pool is initialised at boot and cannot run out,
// unlike a seeded PRNG whose ids could be predicted.
#include "random_id.hpp"

#include <array>
#include <cerrno>
#include <stdexcept>
#include <sys/random.h>
#include <system_error>

namespace cas {

std::string random_hex(std::size_t length) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::array<unsigned char, 64> bytes{};
    std::size_t needed = (length + 1) / 2;
    if (needed > bytes.size()) throw std::invalid_argument("random_hex: too long");
    std::size_t got = 0;
    while (got < needed) {
        auto n = getrandom(bytes.data() + got, needed - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        got += static_cast<std::size_t>(n);
    }
    std::string out;
    out.reserve(length);
    for (std::size_t i = 0; out.size() < length; ++i) {
        out += kDigits[bytes[i] >> 4U];
        if (out.size() < length) out += kDigits[bytes[i] & 0x0fU];
    }
    return out;
}

}  // namespace cas
