#include "gateway/pipeline.h"

#include "server/error_response.h"

namespace agentgate {

boost::asio::awaitable<void> Next::operator()(RequestContext& ctx) const {
  if (index_ >= stages_->size()) {
    SetError(ctx.response, Internal("the pipeline ended without an answer"));
    co_return;
  }
  co_await (*stages_)[index_]->handle(ctx, Next(stages_, index_ + 1));
}

}  // namespace agentgate
