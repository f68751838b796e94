// Operations routes: GET /healthz (alive), GET /readyz (ready / degraded /
// not ready, with reasons), GET /metrics (Prometheus text format 0.0.4).
// Open to every client: they reveal no user data.
#pragma once

#include "server/router.h"
#include "server/services.h"

namespace agentgate {

void RegisterOpsRoutes(Router& router, GatewayServices& services);

}  // namespace agentgate
