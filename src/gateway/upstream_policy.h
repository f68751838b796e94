// UpstreamPolicy: what UpstreamStage consults to decide which targets of a
// plan to call, how often, and what to answer when none will do (the
// resilience layer: breakers, retries, fallbacks). Without a policy,
// UpstreamStage fails over only on unreachable upstreams.
//
// Thread-safety: one policy serves every request on every worker at once.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <optional>
#include <vector>

#include "agentgate/core/status.h"
#include "gateway/model_router.h"
#include "gateway/request_context.h"

namespace agentgate {

class UpstreamPolicy {
 public:
  // Attempt: sends the request once to `target`. Fills ctx.response with the
  // upstream's answer (an HTTP error answer included) and returns OK; or
  // returns the failure (unreachable, timeout, broken answer) and leaves
  // ctx.response as it was, unless a stream had already begun.
  using Attempt = std::function<boost::asio::awaitable<Status>(const RouteTarget& target)>;

  virtual ~UpstreamPolicy() = default;

  // run: calls targets of `plan` through `attempt` until one answers for
  // good. Returns the index in `plan` of the target whose answer
  // ctx.response holds, or nullopt after making ctx.response an error itself.
  virtual boost::asio::awaitable<std::optional<size_t>> run(RequestContext& ctx,
                                                            const std::vector<RouteTarget>& plan,
                                                            const Attempt& attempt) = 0;
};

}  // namespace agentgate
