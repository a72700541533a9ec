// The API's own description: GET /openapi.json (docs/openapi.json, compiled in) and
// GET /docs (docs/api.html, a page that renders it). Open, like the reference app's.
#pragma once

#include "http/router.hpp"

namespace cas::api {

void add_docs_routes(http::Router& router);

}  // namespace cas::api
