// GET /health: liveness and whether an agent run holds the execution slot. No auth, as in
// the reference app, so load balancers can probe it.
#pragma once

#include "http/router.hpp"

#include <functional>

namespace cas::api {

void add_health_routes(http::Router& router, std::function<bool()> is_busy);

}  // namespace cas::api
