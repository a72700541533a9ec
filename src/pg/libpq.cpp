#include "pg/libpq.hpp"

#include "pg/connection.hpp"

#include <dlfcn.h>

#include <fmt/format.h>

#include <optional>

namespace cas::pg {
namespace {

Libpq load() {
    void* handle = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        throw Error(fmt::format("cannot load libpq (apt install libpq5): {}", ::dlerror()), "");
    }
    Libpq lib;
#define CAS_LIBPQ_RESOLVE(name)                                              \
    lib.name = reinterpret_cast<decltype(lib.name)>(::dlsym(handle, #name)); \
    if (lib.name == nullptr) throw Error("libpq.so.5 lacks " #name, "");
    CAS_LIBPQ_FUNCTIONS(CAS_LIBPQ_RESOLVE)
#undef CAS_LIBPQ_RESOLVE
    return lib;  // the handle stays open for the process's life
}

}  // namespace

const Libpq& libpq() {
    static const Libpq lib = load();  // a failed load throws, and is tried again next time
    return lib;
}

}  // namespace cas::pg
