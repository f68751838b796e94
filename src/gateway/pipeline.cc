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

// Profiled: one stage inside its profile site.
boost::asio::awaitable<void> Profiled(ProfileSite& site, Stage& stage, RequestContext& ctx,
                                      Next next) {
  ScopedProfile profile(site);
  co_await stage.handle(ctx, next);
  if (ctx.response.status >= 500) profile.set_error();
}

}  // namespace

// Not a coroutine itself: it hands back the stage's own coroutine (or the
// profiled wrapper), so that each stage costs one coroutine frame, not two.
boost::asio::awaitable<void> Next::operator()(RequestContext& ctx) const {
  const auto& stages = pipeline_->stages_;
  if (index_ >= stages.size()) return PipelineEnded(ctx);
  if (pipeline_->sites_.empty()) return stages[index_]->handle(ctx, Next(pipeline_, index_ + 1));
  return Profiled(*pipeline_->sites_[index_], *stages[index_], ctx, Next(pipeline_, index_ + 1));
}

}  // namespace agentgate
