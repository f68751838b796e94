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

boost::asio::awaitable<void> Next::operator()(RequestContext& ctx) const {
  const auto& stages = pipeline_->stages_;
  if (index_ >= stages.size()) {
    SetError(ctx.response, Internal("the pipeline ended without an answer"));
    co_return;
  }
  if (pipeline_->sites_.empty()) {
    co_await stages[index_]->handle(ctx, Next(pipeline_, index_ + 1));
    co_return;
  }
  ScopedProfile profile(*pipeline_->sites_[index_]);
  co_await stages[index_]->handle(ctx, Next(pipeline_, index_ + 1));
  if (ctx.response.status >= 500) profile.set_error();
}

}  // namespace agentgate
