// CountingExperimentStore: an ExperimentStore that forwards every call to
// another and counts each failed one in
// agentgate_experiment_store_errors_total, so that experiments count their
// store errors like every other concern, whatever the backend (SQLite or
// Redis).
//
// Thread-safety: as the wrapped store (the counter is atomic). Ownership:
// owns the wrapped store; borrows the registry, which must outlive it.
#pragma once

#include <memory>

#include "agentgate/core/metrics.h"
#include "agentgate/experiments/experiment_manager.h"

namespace agentgate {

std::unique_ptr<ExperimentStore> NewCountingExperimentStore(std::unique_ptr<ExperimentStore> store,
                                                            MetricsRegistry& metrics);

}  // namespace agentgate
