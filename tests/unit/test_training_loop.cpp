// The training loop and its callback contract: which hooks run, in which order, with which step, on a
// tiny run on synthetic data; a fresh run evaluates at step 0, a resumed one does not; a hook that
// throws ends the loop; the divergence guard's stop decision.
#include "normscale/core/error.hpp"
#include "normscale/objective/square.hpp"
#include "normscale/train/divergence_guard.hpp"
#include "normscale/train/evaluation_log.hpp"
#include "normscale/train/trainer.hpp"
#include "normscale/train/training_loop.hpp"

#include "support/random_data.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace normscale {
namespace {

constexpr Index kRows = 48;

// Records every hook as "hook@step"; adds its own field to each evaluation's record and notes which
// fields it saw there.
class RecordingCallback final : public TrainingCallback<double> {
 public:
  RecordingCallback(std::string name, std::vector<std::string>& calls) : name_(std::move(name)), calls_(calls) {}

  void begin(TrainingContext<double>& c) override { note("begin", c.engine.steps_done()); }
  void step_taken(TrainingContext<double>&, const StepReport& r) override {
    note(r.evaluation_follows ? "step_taken+eval" : "step_taken", r.step);
    examples.push_back(r.stats.examples);
    EXPECT_GE(r.seconds, 0.0);
  }
  void evaluate(TrainingContext<double>& c, nlohmann::json& record) override {
    note("evaluate", c.engine.steps_done());
    EXPECT_EQ(record["step"].get<Index>(), c.engine.steps_done());
    seen_at_evaluate.push_back(record.dump());
    record[name_] = record["step"];
  }
  void evaluated(TrainingContext<double>& c, const nlohmann::json& record) override {
    note("evaluated", c.engine.steps_done());
    finished_records.push_back(record);
  }
  void step_end(TrainingContext<double>&, Index step) override { note("step_end", step); }
  void end(TrainingContext<double>& c) override { note("end", c.engine.steps_done()); }

  std::vector<Index> examples;
  std::vector<std::string> seen_at_evaluate;
  std::vector<nlohmann::json> finished_records;

 private:
  void note(const char* hook, Index step) { calls_.push_back(name_ + ":" + hook + "@" + std::to_string(step)); }
  std::string name_;
  std::vector<std::string>& calls_;
};

// Throws from step_taken at `step`.
class ThrowAtStep final : public TrainingCallback<double> {
 public:
  explicit ThrowAtStep(Index step) : step_(step) {}
  void step_taken(TrainingContext<double>&, const StepReport& r) override {
    if (r.step == step_) throw Error("stop here");
  }

 private:
  Index step_;
};

// A one-process run of a small MLP with the square loss, minibatches of 12.
class TrainingLoopTest : public ::testing::Test {
 protected:
  TrainingLoopTest()
      : network_(make_mlp<double>({5, {6}, 3, "relu", true})),
        trainer_(options(), comm_, data_.train, kRows, *network_, square_),
        context_{.config = config_, .comm = comm_, .data = data_, .network = *network_, .objective = square_,
                 .engine = trainer_, .initial_squared_norms = {}} {
    network_->initialize({"he", 1.0}, 3);
    context_.total_steps = 4;
  }

  static TrainerOptions options() {
    TrainerOptions o;
    o.batch = 12;
    o.virtual_shards = 4;
    o.lr = 0.01;
    return o;
  }

  LocalComm comm_;
  TrainConfig config_;
  DataSplits data_{testing::random_classification(kRows, 5, 3, 4, testing::LabelRule::kCyclic), {}, {}, {}};
  std::unique_ptr<Network<double>> network_;
  Square<double> square_{{}};
  Trainer<double> trainer_;
  TrainingContext<double> context_;
  std::vector<std::string> calls_;
};

TEST_F(TrainingLoopTest, CallsEveryHookInOrderWithTheStep) {
  RecordingCallback first("a", calls_), second("b", calls_);
  TrainingLoop<double> loop(context_, Cadence{2, 4});
  loop.add(first);
  loop.add(second);
  const nlohmann::json last = loop.run();

  const std::vector<std::string> expected = {
      "a:begin@0",     "b:begin@0",
      "a:evaluate@0",  "b:evaluate@0",  "a:evaluated@0",  "b:evaluated@0",
      "a:step_taken@1", "b:step_taken@1", "a:step_end@1", "b:step_end@1",
      "a:step_taken+eval@2", "b:step_taken+eval@2",
      "a:evaluate@2",  "b:evaluate@2",  "a:evaluated@2",  "b:evaluated@2",
      "a:step_end@2",  "b:step_end@2",
      "a:step_taken@3", "b:step_taken@3", "a:step_end@3", "b:step_end@3",
      "a:step_taken+eval@4", "b:step_taken+eval@4",
      "a:evaluate@4",  "b:evaluate@4",  "a:evaluated@4",  "b:evaluated@4",
      "a:step_end@4",  "b:step_end@4",
      "a:end@4",       "b:end@4"};
  EXPECT_EQ(calls_, expected);
  EXPECT_EQ(trainer_.steps_done(), 4);
  EXPECT_EQ(first.examples, (std::vector<Index>{12, 12, 12, 12}));

  // A later callback's evaluate sees the earlier one's fields; evaluated sees every callback's.
  ASSERT_EQ(second.seen_at_evaluate.size(), 3u);
  EXPECT_TRUE(nlohmann::json::parse(second.seen_at_evaluate[1]).contains("a"));
  EXPECT_FALSE(nlohmann::json::parse(first.seen_at_evaluate[1]).contains("b"));
  ASSERT_EQ(first.finished_records.size(), 3u);
  EXPECT_EQ(first.finished_records[1]["b"], 2);
  EXPECT_EQ(last, first.finished_records.back());
  EXPECT_EQ(last["step"], 4);
  EXPECT_DOUBLE_EQ(last["epoch"].get<double>(), trainer_.epochs_done());
}

TEST_F(TrainingLoopTest, AResumedRunDoesNotEvaluateAtItsFirstStep) {
  trainer_.restore(2);
  context_.resumed = true;
  RecordingCallback only("a", calls_);
  TrainingLoop<double> loop(context_, Cadence{3, 4});
  loop.add(only);
  loop.run();
  const std::vector<std::string> expected = {"a:begin@2",           "a:step_taken+eval@3", "a:evaluate@3",
                                             "a:evaluated@3",       "a:step_end@3",        "a:step_taken+eval@4",
                                             "a:evaluate@4",        "a:evaluated@4",       "a:step_end@4",
                                             "a:end@4"};
  EXPECT_EQ(calls_, expected);
}

TEST_F(TrainingLoopTest, AHookThatThrowsEndsTheLoop) {
  RecordingCallback before("a", calls_), after("b", calls_);
  ThrowAtStep stop(2);
  TrainingLoop<double> loop(context_, Cadence{10, 4});
  loop.add(before);
  loop.add(stop);
  loop.add(after);
  EXPECT_THROW(loop.run(), Error);
  ASSERT_FALSE(calls_.empty());
  EXPECT_EQ(calls_.back(), "a:step_taken@2") << "no hook runs after the one that threw";
  EXPECT_EQ(trainer_.steps_done(), 2);
}

// The Trainer behind the engine interface; the engines below change one thing each.
class DelegatingEngine : public TrainingEngine<double> {
 public:
  explicit DelegatingEngine(Trainer<double>& trainer) : trainer_(trainer) {}
  std::string device() const override { return trainer_.device(); }
  StepStats step() override { return trainer_.step(); }
  void flush_multipliers() override { trainer_.flush_multipliers(); }
  EvalStats evaluate(const Dataset& data) override { return trainer_.evaluate(data); }
  void forward_each_chunk(const Dataset& data, const ChunkVisitor<double>& visit) override {
    trainer_.forward_each_chunk(data, visit);
  }
  TrainingSetEvaluation evaluate_training_set() override { return trainer_.evaluate_training_set(); }
  Index support_count() override { return trainer_.support_count(); }
  Index steps_done() const override { return trainer_.steps_done(); }
  Index global_batch() const override { return trainer_.global_batch(); }
  double epochs_done() const override { return trainer_.epochs_done(); }
  Index steps_for_epochs(double epochs) const override { return trainer_.steps_for_epochs(epochs); }
  void restore(Index step) override { trainer_.restore(step); }
  std::vector<double>& velocity() override { return trainer_.velocity(); }

 private:
  Trainer<double>& trainer_;
};

// The Trainer, counting its passes over the training set for an evaluation.
class CountingEngine final : public DelegatingEngine {
 public:
  using DelegatingEngine::DelegatingEngine;
  TrainingSetEvaluation evaluate_training_set() override {
    ++training_set_passes;
    return DelegatingEngine::evaluate_training_set();
  }

  int training_set_passes = 0;
};

// Reads the evaluation's pass over the training set, as the metrics log and the multiplier readings do.
class ReadsTheTrainingSet final : public TrainingCallback<double> {
 public:
  void evaluate(TrainingContext<double>& c, nlohmann::json&) override {
    const TrainingSetEvaluation& shared = c.train_evaluation();
    const EvalStats fresh = c.engine.evaluate(c.data.train);
    EXPECT_EQ(shared.stats.count, fresh.count);
    EXPECT_EQ(shared.stats.errors, fresh.errors);
    EXPECT_DOUBLE_EQ(shared.stats.loss_sum, fresh.loss_sum) << "at step " << c.engine.steps_done();
    EXPECT_DOUBLE_EQ(shared.dual.lagrangian, 0.5 * c.network.squared_norm()) << "the square loss has no multipliers";
    losses.push_back(shared.stats.loss_sum);
  }
  std::vector<double> losses;
};

TEST_F(TrainingLoopTest, AnEvaluationPassesOverTheTrainingSetOnceForAllHooks) {
  CountingEngine counting(trainer_);
  TrainingContext<double> context{.config = config_, .comm = comm_, .data = data_, .network = *network_,
                                  .objective = square_, .engine = counting, .initial_squared_norms = {}};
  context.total_steps = 4;
  ReadsTheTrainingSet first, second;
  TrainingLoop<double> loop(context, Cadence{2, 4});
  loop.add(first);
  loop.add(second);
  loop.run();
  EXPECT_EQ(counting.training_set_passes, 3) << "one pass at each of the steps 0, 2 and 4";
  ASSERT_EQ(first.losses.size(), 3u);
  EXPECT_EQ(first.losses, second.losses);
  EXPECT_NE(first.losses[0], first.losses[1]) << "each evaluation its own pass, not the last one's";
  EXPECT_NE(first.losses[1], first.losses[2]);
}

// The Trainer, with step times set: each process's first step slow (its warm-up), the others fast.
class WarmingUpEngine final : public DelegatingEngine {
 public:
  using DelegatingEngine::DelegatingEngine;
  StepStats step() override {
    StepStats stats = DelegatingEngine::step();
    const bool first = steps_++ == 0;
    stats.compute_seconds = first ? 1.0 : 0.01;
    stats.comm_seconds = first ? 0.5 : 0.002;
    stats.multiplier_seconds = first ? 0.25 : 0.001;
    return stats;
  }

 private:
  int steps_ = 0;
};

TEST_F(TrainingLoopTest, PerStepTimesLeaveTheWarmUpStepOutAndTheTotalsKeepIt) {
  const testing::TempDir out("normscale_loop_", testing::current_test_name());
  config_.out = out.path().string();
  WarmingUpEngine warming_up(trainer_);
  TrainingContext<double> context{.config = config_,
                                  .comm = comm_,
                                  .data = data_,
                                  .network = *network_,
                                  .objective = square_,
                                  .engine = warming_up,
                                  .initial_squared_norms = {}};
  context.total_steps = 6;
  EvaluationLog<double> log;
  RecordingCallback records("r", calls_);
  TrainingLoop<double> loop(context, Cadence{3, 6});
  loop.add(log);
  loop.add(records);
  loop.run();

  ASSERT_EQ(records.finished_records.size(), 3u) << "steps 0, 3 and 6";
  const nlohmann::json& first = records.finished_records[1];
  const nlohmann::json& second = records.finished_records[2];
  EXPECT_EQ(first["steps"], 3);
  EXPECT_NEAR(first["time_compute_s"].get<double>(), 1.02, 1e-15) << "the totals hold every step";
  EXPECT_NEAR(first["time_comm_s"].get<double>(), 0.504, 1e-15);
  EXPECT_DOUBLE_EQ(first["warmup_step_s"].get<double>(), 1.75);
  EXPECT_NEAR(first["step_time_compute_s"].get<double>(), 0.01, 1e-15) << "the steady step's";
  EXPECT_NEAR(first["step_time_comm_s"].get<double>(), 0.002, 1e-15);
  EXPECT_NEAR(first["step_time_multiplier_s"].get<double>(), 0.001, 1e-15);
  EXPECT_NEAR(first["step_time_compute_max_s"].get<double>(), 0.01, 1e-15);
  EXPECT_NEAR(first["step_time_comm_min_s"].get<double>(), 0.002, 1e-15);
  EXPECT_FALSE(second.contains("warmup_step_s")) << "one warm-up per process";
  EXPECT_NEAR(second["time_compute_s"].get<double>(), 0.03, 1e-15);
  EXPECT_NEAR(second["step_time_compute_s"].get<double>(), 0.01, 1e-15);
}

TEST(DivergenceGuard, StopsOnANonFiniteOrTooLargeMeanLoss) {
  StepStats stats;
  stats.examples = 10;
  stats.loss_sum = 50.0;  // mean 5
  EXPECT_FALSE(step_diverged(stats, 5.0));
  EXPECT_TRUE(step_diverged(stats, 4.9));
  stats.loss_sum = -60.0;
  EXPECT_TRUE(step_diverged(stats, 5.0));
  stats.loss_sum = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(step_diverged(stats, 1e12));
  stats.loss_sum = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(step_diverged(stats, 1e12));
}

}  // namespace
}  // namespace normscale
