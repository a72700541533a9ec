// Admission: what the server decides about a request from its header alone, before a byte of
// the body is read — framing, target, Host, route, bearer token, declared length. A pure
// function with no Beast or socket in sight, so the unit tests and the HTTP fuzzer call the
// very code the server runs; the server only does the I/O around it.
#pragma once

#include "http/message.hpp"
#include "http/response.hpp"
#include "http/router.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace cas::http {

// A parsed request header, as plain data. The framing facts come from the HTTP parser,
// which is the authority on how the body is delimited.
struct RequestHead {
    std::string method;
    std::string target;
    unsigned version = 11;  // 10 for HTTP/1.0, 11 for HTTP/1.1
    Fields fields;          // as sent, in order
    std::optional<std::uint64_t> content_length;
    bool chunked = false;  // the last transfer coding is chunked
};

// The head of a Beast request_parser. A template so that this header needs no Beast include;
// the server and the fuzzer, which hold the parser, instantiate it.
template <class Parser>
RequestHead request_head(const Parser& parser) {
    const auto& message = parser.get();
    RequestHead head;
    head.method = message.method_string();
    head.target = message.target();
    head.version = message.version();
    for (const auto& field : message) head.fields.emplace_back(field.name_string(), field.value());
    if (auto length = parser.content_length()) head.content_length = *length;
    head.chunked = parser.chunked();
    return head;
}

struct AdmitLimits {
    std::size_t max_body_bytes = 0;
};

// The answer to send without calling a handler.
struct Refusal {
    Response response;
    // Unread or unframed body bytes follow the header: the connection cannot carry another
    // request, or they would be read as one.
    bool close = false;
};

// A request its route's handler will answer (a HEAD by the GET route's handler).
struct Admitted {
    const Route* route = nullptr;
    bool read_body = false;  // a body follows the header and must be read before the handler
};

struct Admission {
    // Always method, target, headers and request_id (for the log line and X-Request-Id);
    // segments and query once the target parsed; route and params once it matched.
    Request request;
    std::variant<Refusal, Admitted> outcome;
};

Admission admit(RequestHead head, const Router& router, const AdmitLimits& limits,
                std::string_view bearer_token);

// The 413 for a body over the limit, whether declared up front or found while reading.
Response body_too_large(ErrorDialect dialect, std::size_t limit);

}  // namespace cas::http
