#include "gateway/pipeline.h"

#include "server/error_response.h"

namespace agentgate {

Pipeline::Pipeline(std::vector<std::shared_ptr<Stage>> stages, Profiler* profiler)
    : stages_(std::move(stages)) {
  if (profiler == nullptr) return;
  for (const auto& stage : stages_) {
    sites_.push_back(&profiler->site("stage." + std::string(stage->name())));
  }
}

namespace {

// PipelineEnded: the answer when every stage passed the request on.
boost::asio::awaitable<void> PipelineEnded(RequestContext& ctx) {
  SetError(ctx.response, Internal("the pipeline ended without an answer"));
  co_return;
}

}  // namespace

// Not a coroutine itself: it hands back the stage's own coroutine, so that
// each stage costs one coroutine frame, profiled or not.
boost::asio::awaitable<void> Next::operator()(RequestContext& ctx) const {
  const auto& stages = pipeline_->stages_;
  if (index_ >= stages.size()) return PipelineEnded(ctx);
  Next rest(pipeline_, index_ + 1);
  if (!pipeline_->sites_.empty()) {
    ProfileSite& site = *pipeline_->sites_[index_];
    if (site.enabled()) rest.timing_ = Timing{&site, &ctx, site.clock().monotonic()};
  }
  return stages[index_]->handle(ctx, std::move(rest));
}

void Next::record_stage() noexcept {
  const Nanos end = timing_.site->clock().monotonic();
  timing_.site->record_ended(end - timing_.start, timing_.ctx->response.status >= 500, end);
}

}  // namespace agentgate
