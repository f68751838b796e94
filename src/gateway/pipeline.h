// Pipeline: an ordered list of stages for one route, built once at start-up
// and shared immutably by every request. The last stage must answer (the
// upstream stage); running past it is a configuration bug answered with 500.
//
// Thread-safety: immutable after construction; run() from any thread.
#pragma once

#include <memory>
#include <vector>

#include "gateway/stage.h"

namespace agentgate {

class Pipeline {
 public:
  explicit Pipeline(std::vector<std::shared_ptr<Stage>> stages) : stages_(std::move(stages)) {}

  boost::asio::awaitable<void> run(RequestContext& ctx) const {
    co_await Next(&stages_, 0)(ctx);
  }

  const std::vector<std::shared_ptr<Stage>>& stages() const { return stages_; }

 private:
  std::vector<std::shared_ptr<Stage>> stages_;
};

}  // namespace agentgate
