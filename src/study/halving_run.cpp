// Halving between the planner and the database: rung budgets, standings from the store, decisions recorded.
#include "normscale/study/halving_run.hpp"

#include "normscale/core/error.hpp"
#include "normscale/train/training_schedule.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <tuple>

namespace normscale {
namespace {

// The evaluations of a trial as the database holds them (every rung it ran so far: a resumed run keeps them).
std::vector<Evaluation> evaluations_of(const TrialStore& store, const std::string& id, StudyMetric metric) {
  std::vector<Evaluation> evaluations;
  for (const MetricRow& row : store.metrics(id)) {
    const auto record = nlohmann::json::parse(row.json, nullptr, false);
    evaluations.push_back({row.step, row.epoch, metric_of(record, metric)});
  }
  return evaluations;
}

}  // namespace

HalvingRun::HalvingRun(const StudySpec& spec, std::span<const Trial> trials)
    : spec_(spec.halving.value()), metric_(spec.metric), budget_in_steps_(spec.steps > 0),
      unit_(spec.steps > 0 ? "steps" : "epochs"), trials_(trials), known_errors_(trials.size()) {
  std::map<std::tuple<std::string, std::int64_t, std::int64_t, std::uint64_t>, std::size_t> bracket_of;
  for (std::size_t i = 0; i < trials.size(); ++i) {
    const Trial& trial = trials[i];
    const auto key = std::make_tuple(trial.regime, trial.batch, trial.ranks, trial.seed);
    brackets_.push_back(bracket_of.emplace(key, bracket_of.size()).first->second);
    index_of_id_[trial.id] = i;
    std::vector<Trial>& rungs = at_rungs_.emplace_back();
    // A full-batch run (one step per epoch) evaluates 20 times by default, on a cadence of its own budget: each
    // rung's run takes the full budget's, so that its evaluations are the uninterrupted run's.
    const bool full_batch_cadence = trial.config.optim.batch == kFullBatch && trial.config.eval_every == 0;
    for (const std::int64_t budget : spec_.rungs) {
      Trial& rung = rungs.emplace_back(trial);
      if (budget_in_steps_) {
        rung.config.steps = budget;
      } else {
        rung.config.epochs = budget;
        rung.config.steps = 0;
      }
      if (full_batch_cadence) rung.config.eval_every = default_cadence(1, spec_.rungs.back());
    }
  }
}

const Trial& HalvingRun::at_rung(const Trial& trial, std::int64_t rung) const {
  const auto index = index_of_id_.find(trial.id);
  NS_CHECK(index != index_of_id_.end(), "halving: trial {} is not in the study", trial.id);
  const std::vector<Trial>& rungs = at_rungs_[index->second];
  const std::int64_t last = static_cast<std::int64_t>(rungs.size()) - 1;
  return rungs[static_cast<std::size_t>(std::clamp<std::int64_t>(rung, 0, last))];
}

HalvingStep HalvingRun::advance(TrialStore& store) {
  std::vector<TrialRecord> records(trials_.size());
  for (std::size_t i = 0; i < trials_.size(); ++i) {
    std::optional<TrialRecord> record = store.trial(trials_[i].id);
    NS_CHECK(record.has_value(), "halving: trial {} is not in the database {}", trials_[i].id,
             store.path().string());
    records[i] = std::move(*record);
  }
  const std::int64_t last = static_cast<std::int64_t>(spec_.rungs.size()) - 1;
  std::vector<RungStanding> standings;
  for (std::size_t i = 0; i < trials_.size(); ++i) {
    const TrialRecord& record = records[i];
    RungStanding standing;
    standing.bracket = brackets_[i];
    standing.rung = static_cast<std::size_t>(std::clamp<std::int64_t>(record.rung, 0, last));
    standing.progress = record.state == TrialState::kDone     ? RungProgress::kFinished
                        : record.state == TrialState::kFailed ? RungProgress::kFailed
                                                              : RungProgress::kUnfinished;
    const std::size_t known = standing.rung + (standing.progress == RungProgress::kFinished ? 1 : 0);
    std::optional<KnownErrors>& cached = known_errors_[i];
    if (known > 0 && !(cached && cached->known == known && cached->progress == standing.progress &&
                       cached->finished == record.finished && cached->wall_seconds == record.wall_seconds)) {
      const std::vector<Evaluation> evaluations = evaluations_of(store, record.id, metric_);
      ++metrics_reads_;
      // A run without a validation split (a generated data set may have none; data.validation = 0) could
      // never be promoted: said at the first such end, not found out when every trial has stopped.
      NS_CHECK(standing.progress != RungProgress::kFinished ||
                   (!evaluations.empty() && evaluations.back().value.has_value()),
               "halving: trial {} ended rung {} without a {} (its metrics record none); halving ranks trials by it: "
               "give the study a validation split (base.\"data.validation\" = N for a data set read from files) or "
               "leave [halving] out{}",
               record.id, standing.rung, metric_name(metric_),
               metric_ == StudyMetric::kValidationError
                   ? " (a regression run has no error to rank by: its records hold losses; rank by them with "
                     "select_by = \"validation_loss\")"
                   : "");
      cached = KnownErrors{known, standing.progress, record.finished, record.wall_seconds,
                           errors_at_rungs(evaluations, spec_.rungs, budget_in_steps_, known)};
    }
    if (known > 0) standing.errors = cached->errors;
    standings.push_back(std::move(standing));
  }
  const HalvingPlan plan = plan_halving(spec_, standings);
  HalvingStep step;
  for (const std::size_t i : plan.promote) {
    const std::size_t rung = standings[i].rung + 1;
    store.promote(trials_[i].id, static_cast<std::int64_t>(rung));
    // A promotion keeps the metrics: the record as promote() leaves it keeps the errors known.
    known_errors_[i]->progress = RungProgress::kUnfinished;
    known_errors_[i]->finished.clear();
    known_errors_[i]->wall_seconds.reset();
    step.promoted.push_back(&at_rungs_[i][rung]);
    step.notes.push_back(fmt::format("normscale study: trial {} promoted to rung {} ({} {}; {} {} at {} {}): {}",
                                     trials_[i].id, rung, spec_.rungs[rung], unit_, metric_name(metric_),
                                     metric_value_text(metric_, standings[i].errors[rung - 1]),
                                     spec_.rungs[rung - 1], unit_, describe_trial(trials_[i])));
  }
  for (const std::size_t i : plan.stop) {
    if (records[i].stopped_early) continue;
    store.stop_early(trials_[i].id);
    step.notes.push_back(fmt::format("normscale study: trial {} stopped early at rung {} ({} {}): {}", trials_[i].id,
                                     standings[i].rung, spec_.rungs[standings[i].rung], unit_,
                                     describe_trial(trials_[i])));
  }
  return step;
}

}  // namespace normscale
