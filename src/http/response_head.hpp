// A whole response's head (status line and header block), rendered into a buffer the
// connection keeps: the bytes Beast's serializer would send for the same message, without a
// field node allocated per header on every response.
#pragma once

#include "http/message.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace cas::http {

struct HeadOptions {
    std::string_view request_id;  // X-Request-Id, when not empty
    bool keep_alive = true;
    unsigned version = 11;  // 10 or 11
};

// Replaces `out` with the head of `response` whose body is `content_length` bytes. A header
// whose name or value could end the line (CR, LF or NUL) is not written: its bytes would
// become headers of their own.
void render_head(std::string& out, const Response& response, std::size_t content_length,
                 const HeadOptions& options);

}  // namespace cas::http
