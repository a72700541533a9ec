// GET /metrics: the Prometheus text exposition. Open by default, as scrapers expect; with
// METRICS_TOKEN set it needs that bearer token (not the API's).
#pragma once

#include "http/router.hpp"
#include "telemetry/metrics.hpp"

#include <string>

namespace cas::api {

void add_metrics_routes(http::Router& router, Metrics& metrics, std::string token);

}  // namespace cas::api
