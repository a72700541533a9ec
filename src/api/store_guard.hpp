// The store failing (a full disk, a database server down) is the service's trouble, not the
// client's: a route wrapped here answers 503 saying why, in its API's error shape, with a
// Retry-After the client may honour. Nothing changed: every store write is one transaction.
#pragma once

#include "http/message.hpp"
#include "http/response.hpp"

namespace cas::api {

http::Handler store_guarded(http::ErrorDialect dialect, http::Handler handler);

}  // namespace cas::api
