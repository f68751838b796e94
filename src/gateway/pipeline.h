// Pipeline: an ordered list of stages for one route, built once at start-up
// and shared immutably by every request. The last stage must answer (the
// upstream stage); running past it is a configuration bug answered with 500.
//
// With a Profiler, each stage is profiled as "stage.<name>" (inclusive of
// the stages after it; an answer of 500 or more counts as an error).
//
// Thread-safety: immutable after construction; run() from any thread.
#pragma once

#include <memory>
#include <vector>

#include "agentgate/perf/profiler.h"
#include "gateway/stage.h"

namespace agentgate {

class Pipeline {
 public:
  // REQUIRES: `profiler` (may be null) outlives the pipeline.
  explicit Pipeline(std::vector<std::shared_ptr<Stage>> stages, Profiler* profiler = nullptr);

  // run: the whole pipeline for one request (Next is not a coroutine, so the
  // temporary may go once the first stage's coroutine is made).
  boost::asio::awaitable<void> run(RequestContext& ctx) const { return Next(this, 0)(ctx); }

  const std::vector<std::shared_ptr<Stage>>& stages() const { return stages_; }

 private:
  friend class Next;
  std::vector<std::shared_ptr<Stage>> stages_;
  std::vector<ProfileSite*> sites_;  // parallel to stages_; empty without a profiler
};

}  // namespace agentgate
