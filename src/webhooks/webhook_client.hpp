// One webhook attempt over the network: resolve the callback's host, keep the addresses it
// may reach (address_policy.hpp), connect, TLS for https (certificates verified against the
// system store or WEBHOOK_CA_FILE, with the host name checked and SNI set), POST, and read the
// status. Redirects are not followed and at most 16 KiB of the answer is read. The whole
// attempt is bounded by `timeout` (resolving, by the system resolver's own limits).
#pragma once

#include "webhooks/callback_url.hpp"
#include "webhooks/delivery.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cas::webhooks {

struct OutgoingRequest {
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  // JSON
};

class WebhookClient {
public:
    // `ca_file`: certificates to trust instead of the system's (PEM); throws
    // std::runtime_error naming it when it cannot be read.
    explicit WebhookClient(std::optional<std::string> ca_file);

    boost::asio::awaitable<AttemptOutcome> post(const CallbackUrl& url, HostMatch match,
                                                const OutgoingRequest& request,
                                                std::chrono::milliseconds timeout);

private:
    // Made at the first https callback, not at start-up: OpenSSL's initialisation costs the
    // service ~6 MiB of RSS (docs/BENCHMARKS.md), which one without https callbacks never pays.
    // Throws std::runtime_error when the certificates cannot be loaded.
    boost::asio::ssl::context& tls();

    std::optional<std::string> ca_file_;
    std::optional<boost::asio::ssl::context> tls_;
};

}  // namespace cas::webhooks
