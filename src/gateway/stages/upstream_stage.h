// UpstreamStage: the last stage. Sends the request to the upstream the
// ModelRouter picks and gives the answer to the client: a JSON response
// (status, end-to-end headers and body as the upstream sent them), or a
// Server-Sent Events stream passed through chunk by chunk.
//
// Failover: when an upstream cannot be reached (nothing was sent to it), the
// next target of the plan is tried. With an UpstreamPolicy (the resilience
// layer: breakers, retries, fallbacks) the policy decides instead.
// Errors: unreachable 502, timeout 504, invalid JSON or a broken response
// 502, all in the OpenAI error shape; a stream that breaks after it began
// ends with an SSE `error` event.
//
// Thread-safety: shared by all workers; clients and trackers are
// internally synchronized.
#pragma once

#include <memory>
#include <vector>

#include "agentgate/perf/profiler.h"
#include "gateway/model_router.h"
#include "gateway/stage.h"
#include "gateway/upstream_policy.h"
#include "gateway/usage_tracker.h"
#include "upstream/upstream_client.h"

namespace agentgate {

class UpstreamStage final : public Stage {
 public:
  // REQUIRES: clients[i] serves config upstream i, as the router indexes them.
  // Each upstream exchange is profiled as "upstream.<name>" when `profiler`
  // is set (by the client: UpstreamClient::profile_into).
  // `policy` (may be null; must outlive the stage) decides which targets are
  // called and how often.
  UpstreamStage(std::vector<std::shared_ptr<UpstreamClient>> clients, const ModelRouter& router,
                UsageTracker& usage, Profiler* profiler = nullptr,
                UpstreamPolicy* policy = nullptr);

  std::string_view name() const override { return "upstream"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next next) override;

 private:
  // attempt: one call of `target` (see UpstreamPolicy::Attempt).
  boost::asio::awaitable<Status> attempt(RequestContext& ctx, const RouteTarget& target,
                                         UpstreamRequest& request);
  boost::asio::awaitable<Status> send_stream(RequestContext& ctx, UpstreamClient& client,
                                             const UpstreamRequest& request);

  std::vector<std::shared_ptr<UpstreamClient>> clients_;
  const ModelRouter& router_;
  UsageTracker& usage_;
  UpstreamPolicy* policy_;           // may be null
};

}  // namespace agentgate
