// The one assertion the fuzz targets use: on failure it prints what broke and aborts, which
// libFuzzer reports as a crash and saves the input. Independent of NDEBUG.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond, what)                                                    \
    do {                                                                          \
        if (!(cond)) ::cas_fuzz::check_failed(#cond, (what), __FILE__, __LINE__); \
    } while (false)

// A check for a bug that is reported and not fixed yet, named by `key` (the directory
// tests/fuzz/known/<key> holds its input). Off when CAS_FUZZ_SKIP_KNOWN lists the key
// (comma-separated, or "all"), so a run can look for new bugs; run.sh sets it from
// tests/fuzz/known/. Once the bug is fixed, deleting that directory arms the check again.
#define FUZZ_CHECK_KNOWN(key, cond, what)                                                    \
    do {                                                                                     \
        if (!(cond) && !::cas_fuzz::known_bug_skipped(key))                                  \
            ::cas_fuzz::check_failed(#cond, std::string("[known: ") + (key) + "] " + (what), \
                                     __FILE__, __LINE__);                                    \
    } while (false)

namespace cas_fuzz {

[[noreturn]] inline void check_failed(const char* cond, std::string_view what, const char* file,
                                      int line) {
    std::fprintf(stderr, "\n==FUZZ CHECK FAILED== %s:%d: %s\n  %.*s\n", file, line, cond,
                 static_cast<int>(what.size()), what.data());
    std::abort();
}

inline bool known_bug_skipped(std::string_view key) {
    static const std::string skip = [] {
        const char* value = std::getenv("CAS_FUZZ_SKIP_KNOWN");
        return "," + std::string(value != nullptr ? value : "") + ",";
    }();
    return skip == ",all," || skip.find("," + std::string(key) + ",") != std::string::npos;
}

// Bytes as a printable C-escaped string, for messages.
inline std::string escaped(std::string_view bytes, std::size_t limit = 400) {
    std::string out;
    for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
        auto c = static_cast<unsigned char>(bytes[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    if (bytes.size() > limit) out += "...";
    return out;
}

}  // namespace cas_fuzz
