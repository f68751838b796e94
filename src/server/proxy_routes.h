// Proxy routes (what OpenAI clients call): POST /v1/chat/completions,
// POST /v1/completions, POST /v1/embeddings through the pipeline, and
// GET /v1/models. Bodies are validated before any stage runs: a body that is
// not a JSON object or lacks model/messages (prompt, input) is a 400 and
// never reaches an upstream.
#pragma once

#include <memory>

#include "gateway/pipeline.h"
#include "server/router.h"
#include "server/services.h"

namespace agentgate {

void RegisterProxyRoutes(Router& router, GatewayServices& services,
                         std::shared_ptr<const Pipeline> pipeline);

// Admin: GET /api/v1/usage/{user_id}.
void RegisterUsageRoutes(Router& router, GatewayServices& services);

}  // namespace agentgate
