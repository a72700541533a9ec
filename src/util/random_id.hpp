// Identifiers from the kernel's random source (getrandom), for job and request ids.
#pragma once

#include <cstddef>
#include <string>

namespace cas {

// `length` lowercase hex characters.
std::string random_hex(std::size_t length);

}  // namespace cas
