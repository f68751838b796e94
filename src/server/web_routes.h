// Web routes: the pages people look at, served from files compiled into the
// binary (server/web/embedded_files.h):
//   GET /docs                  the API reference page (renders the document below)
//   GET /docs/openapi.json     the OpenAPI 3 document of every route (docs/openapi.json)
//   GET /dashboard             the live operations dashboard (web/dashboard.html)
//   GET /ui/{file}             the pages' scripts and styles (web/*.js, web/*.css)
// Open to every client: the pages hold no data; the dashboard asks for the
// admin key and calls the admin API with it.
#pragma once

#include "server/router.h"

namespace agentgate {

void RegisterWebRoutes(Router& router);

}  // namespace agentgate
