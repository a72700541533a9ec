// getrandom(2) never blocks once the pool is initialised at boot and cannot run out,
// unlike a seeded PRNG whose ids could be predicted. Its bytes are fetched 256 at a time:
// one syscall per request id was an eighth of the syscall time of a GET /health. (The
// service forks only to exec, so no two processes hand out the same buffered bytes.)
#include "util/random_id.hpp"

#include <array>
#include <cerrno>
#include <stdexcept>
#include <sys/random.h>
#include <system_error>

namespace cas {
namespace {

class RandomBytes {
public:
    unsigned char next() {
        if (used_ == pool_.size()) refill();
        return pool_[used_++];
    }

private:
    void refill() {
        std::size_t got = 0;
        while (got < pool_.size()) {
            auto n = getrandom(pool_.data() + got, pool_.size() - got, 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                throw std::system_error(errno, std::generic_category(), "getrandom");
            }
            got += static_cast<std::size_t>(n);
        }
        used_ = 0;
    }
    std::array<unsigned char, 256> pool_{};
    std::size_t used_ = pool_.size();
};

}  // namespace

std::string random_hex(std::size_t length) {
    static constexpr char kDigits[] = "0123456789abcdef";
    if (length > 64) throw std::invalid_argument("random_hex: too long");
    thread_local RandomBytes source;
    std::string out;
    out.reserve(length);
    while (out.size() < length) {
        unsigned char byte = source.next();
        out += kDigits[byte >> 4U];
        if (out.size() < length) out += kDigits[byte & 0x0fU];
    }
    return out;
}

}  // namespace cas
