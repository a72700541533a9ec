#include "http/response_head.hpp"

#include <boost/beast/http/status.hpp>

#include <array>
#include <charconv>

namespace cas::http {
namespace {

bool writable(std::string_view text) {
    return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void add_field(std::string& out, std::string_view name, std::string_view value) {
    if (!writable(name) || !writable(value)) return;
    out.append(name).append(": ").append(value).append("\r\n");
}

// RFC 9110 8.6: no Content-Length on 1xx and 204; 304 would announce another message's.
bool carries_length(unsigned status) {
    return status >= 200 && status != 204 && status != 304;
}

}  // namespace

void render_head(std::string& out, const Response& response, std::size_t content_length,
                 const HeadOptions& options) {
    namespace bhttp = boost::beast::http;
    out.assign(options.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    std::array<char, 24> number{};
    auto status_end =
        std::to_chars(number.data(), number.data() + number.size(), response.status).ptr;
    out.append(number.data(), status_end).append(" ");
    out.append(bhttp::obsolete_reason(static_cast<bhttp::status>(response.status))).append("\r\n");
    add_field(out, "Content-Type", response.content_type);
    if (!options.request_id.empty()) add_field(out, "X-Request-Id", options.request_id);
    for (const auto& [name, value] : response.headers) add_field(out, name, value);
    // HTTP/1.1 keeps the connection unless told; HTTP/1.0 closes it unless told.
    if (options.version == 10 && options.keep_alive) add_field(out, "Connection", "keep-alive");
    if (options.version != 10 && !options.keep_alive) add_field(out, "Connection", "close");
    if (carries_length(response.status)) {
        auto length_end =
            std::to_chars(number.data(), number.data() + number.size(), content_length).ptr;
        add_field(out, "Content-Length", std::string_view(number.data(), length_end));
    }
    out.append("\r\n");
}

}  // namespace cas::http
