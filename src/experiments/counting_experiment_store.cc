#include "experiments/counting_experiment_store.h"

namespace agentgate {

namespace {

class CountingExperimentStore final : public ExperimentStore {
 public:
  CountingExperimentStore(std::unique_ptr<ExperimentStore> store, MetricsRegistry& metrics)
      : store_(std::move(store)),
        errors_(metrics.counter("agentgate_experiment_store_errors_total",
                                "Experiment store calls that failed (definitions, counts, "
                                "sticky assignments)")) {}

  Status put_experiment(const ExperimentSpec& spec, ExperimentStatus status,
                        std::string_view winner) override {
    return Count(store_->put_experiment(spec, status, winner));
  }
  Status erase_experiment(std::string_view id) override {
    return Count(store_->erase_experiment(id));
  }
  Status add_counts(std::string_view id, int variant, const VariantCounts& delta) override {
    return Count(store_->add_counts(id, variant, delta));
  }
  Result<int> put_assignment(std::string_view id, std::string_view user, int variant) override {
    return Count(store_->put_assignment(id, user, variant));
  }
  Result<std::vector<Snapshot>> load() override { return Count(store_->load()); }

 private:
  template <typename T>
  T Count(T result) {
    if (!result.ok()) errors_.inc();
    return result;
  }

  const std::unique_ptr<ExperimentStore> store_;
  Counter& errors_;
};

}  // namespace

std::unique_ptr<ExperimentStore> NewCountingExperimentStore(std::unique_ptr<ExperimentStore> store,
                                                            MetricsRegistry& metrics) {
  return std::make_unique<CountingExperimentStore>(std::move(store), metrics);
}

}  // namespace agentgate
