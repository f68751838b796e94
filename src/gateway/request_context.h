// RequestContext: the one object the stages of a proxy request share. Stages
// never call each other; they read and write only this.
//
// Lifetime: lives on the proxy handler's coroutine frame for one request.
// Thread-safety: used by one coroutine at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agentgate/core/clock.h"
#include "gateway/proxy_request.h"
#include "server/auth/key_store.h"
#include "server/http_types.h"

namespace agentgate {

// Usage: tokens as the upstream reported them (OpenAI `usage`).
struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
  bool known = false;  // the upstream reported usage for this request
};

// StreamObserver: sees a streamed 2xx response as it passes to the client
// (the cache stage captures it this way). Called on the request's thread;
// must not block or delay the client.
class StreamObserver {
 public:
  virtual ~StreamObserver() = default;
  // on_chunk: bytes of the SSE body, as they are written to the client.
  virtual void on_chunk(std::string_view bytes) = 0;
  // on_complete: the stream ended; `ok` when it ended with [DONE].
  virtual void on_complete(bool ok) = 0;
};

struct RequestContext {
  RequestContext(HttpRequest& req, HttpResponse& res, ProxyEndpoint e)
      : request(req), response(res), endpoint(e) {}

  HttpRequest& request;    // body is what goes upstream (stages may rewrite `model`)
  HttpResponse& response;  // what the client gets, unless streamed
  ProxyEndpoint endpoint;
  ProxyRequestInfo info;   // parsed from the body before the first stage
  Principal principal;     // set by the authenticate stage

  // Filled on the way back by the stage that answered.
  std::string upstream;    // the upstream that answered ("" for cache hits and errors)
  Usage usage;
  bool streamed = false;   // the response went to the client as a stream

  // Observers of a streamed response (not owned; they outlive the request's
  // pass through the stage that called them).
  std::vector<StreamObserver*> stream_observers;
};

}  // namespace agentgate
