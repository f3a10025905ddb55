// The Trainer's step against hand-written reference loops: Minnorm exact/lagged, fused full batch,
// weight decay with momentum, and the unbiased estimator's scaling.
#include "normscale/train/config.hpp"
#include "normscale/optim/sgd.hpp"
#include "normscale/train/trainer.hpp"
#include "normscale/core/error.hpp"
#include "normscale/objective/cross_entropy.hpp"
#include "normscale/objective/minnorm.hpp"
#include "normscale/model/architectures.hpp"

#include "support/random_data.hpp"

#include <gtest/gtest.h>

#include <numeric>

namespace normscale {
namespace {

Dataset small_multiclass(Index rows, std::uint64_t seed) {
  return testing::random_classification(rows, 5, 3, seed, testing::LabelRule::kCyclic);
}

// Reference Minnorm loop written straight from ALGORITHMS §1 (no fusion, no sampler tricks).
void reference_minnorm_steps(Network<double>& net, Minnorm<double>& obj, const Dataset& d, int steps,
                             double eta, bool exact) {
  std::vector<Index> rows(static_cast<std::size_t>(d.rows));
  std::iota(rows.begin(), rows.end(), 0);
  Matrix<double> x = d.feature_matrix().cast<double>();
  Matrix<double> g;
  for (int t = 0; t < steps; ++t) {
    Matrix<double> f = net.forward(x);
    obj.output_gradient(d, rows, f, 1.0, g);
    net.backward(g);
    auto& w = net.mutable_parameters();
    for (std::size_t i = 0; i < w.size(); ++i) w[i] -= eta * (w[i] + net.gradient()[i]);
    obj.update_multipliers(d, rows, exact ? Matrix<double>(net.forward(x)) : f);
  }
}

void expect_same_state(const Network<double>& a, const Network<double>& b, const MultiplierStore& aa,
                       const MultiplierStore& ab) {
  ASSERT_EQ(a.parameters().size(), b.parameters().size());
  for (std::size_t i = 0; i < a.parameters().size(); ++i) EXPECT_NEAR(a.parameters()[i], b.parameters()[i], 1e-12);
  for (std::size_t i = 0; i < aa.values().size(); ++i) EXPECT_NEAR(aa.values()[i], ab.values()[i], 1e-12);
}

void check_full_batch(bool exact) {
  const Dataset d = small_multiclass(12, 1);
  auto net = make_mlp<double>({5, {6}, 3, "relu", true});
  auto ref = make_mlp<double>({5, {6}, 3, "relu", true});
  net->initialize({"he", 1}, 5);
  ref->initialize({"he", 1}, 5);
  const MinnormParams params{MinnormTask::kMulticlass, 0.5, 0.3, exact ? MultiplierUpdate::kExact : MultiplierUpdate::kLagged};
  Minnorm<double> obj(params, d, 3), ref_obj(params, d, 3);
  LocalComm comm;
  TrainerOptions options;
  options.batch = kFullBatch;
  options.virtual_shards = 4;
  options.lr = 0.05;
  Trainer<double> trainer(options, comm, d, d.rows, *net, obj);
  for (int t = 0; t < 20; ++t) trainer.step();
  trainer.flush_multipliers();
  reference_minnorm_steps(*ref, ref_obj, d, 20, 0.05, exact);
  expect_same_state(*net, *ref, *obj.multipliers(), *ref_obj.multipliers());
  EXPECT_GT(obj.multipliers()->support_count(), 0);
}

TEST(Trainer, FullBatchExactFusedEqualsReference) { check_full_batch(true); }
TEST(Trainer, FullBatchLaggedEqualsReference) { check_full_batch(false); }

TEST(Trainer, MinibatchExactUsesOnlyTheBatchAndSums) {
  // One minibatch step with Q = 4 of 12: only the batch's multipliers change, and the data term is a
  // sum (doubling the data would double its pull).
  const Dataset d = small_multiclass(12, 2);
  auto net = make_mlp<double>({5, {}, 3, "identity", false});
  net->initialize({"normal", 0.1}, 1);
  const std::vector<double> w0 = net->parameters();
  Minnorm<double> obj({MinnormTask::kMulticlass, 0.0, 1.0}, d, 3);
  LocalComm comm;
  TrainerOptions options;
  options.batch = 4;
  options.virtual_shards = 2;
  options.lr = 0.1;
  Trainer<double> trainer(options, comm, d, d.rows, *net, obj);
  // alpha = 0 at the start, so the first step only shrinks the weights: W1 = (1 - eta) W0.
  trainer.step();
  for (std::size_t i = 0; i < w0.size(); ++i) EXPECT_NEAR(net->parameters()[i], 0.9 * w0[i], 1e-14);
  // Exact update: alpha = max(0, s (1 - y f(W1))) on the 4 batch examples only.
  MinibatchSampler sampler(12, 2, 4, options.seed, 0, 2);
  const auto batch = sampler.batch(0);
  Index touched = 0;
  for (Index id = 0; id < 12; ++id) {
    const bool in_batch = std::find(batch.begin(), batch.end(), id) != batch.end();
    const double* a = obj.multipliers()->row(id);
    Matrix<double> x = d.feature_matrix().row(id).cast<double>();
    Matrix<double> f = net->forward(x);
    for (Index i = 0; i < 3; ++i) {
      const double y = d.labels[static_cast<std::size_t>(id)] == i ? 1.0 : -1.0;
      const double expected = in_batch ? std::max(0.0, 1.0 - y * f(0, i)) : 0.0;
      EXPECT_NEAR(a[i], expected, 1e-12);
    }
    touched += in_batch ? 1 : 0;
  }
  EXPECT_EQ(touched, 4);
}

// Minnorm's exact multiplier update passes over the batch a second time, at the new weights, in training mode
// (the batch statistics); that pass must not move batch norm's running statistics, or every step would count
// twice in them and each evaluation or checkpoint (which flush the fused full-batch update) once more.
TEST(Trainer, MinnormExactUpdateLeavesTheRunningStatisticsToTheStep) {
  const Dataset d = small_multiclass(12, 3);
  const auto make_net = [] {
    auto net = make_bn_mlp<double>({.inputs = 5, .hidden = {6}, .outputs = 3});
    net->initialize({"he", 1}, 7);
    return net;
  };
  const MinnormParams params{MinnormTask::kMulticlass, 0.5, 0.3, MultiplierUpdate::kExact};
  LocalComm comm;
  TrainerOptions options;
  options.virtual_shards = 2;
  options.lr = 0.05;

  // Minibatch: after one step the running statistics are one momentum update with the batch at the initial weights.
  options.batch = 4;
  auto net = make_net();
  Minnorm<double> obj(params, d, 3);
  Trainer<double> trainer(options, comm, d, d.rows, *net, obj);
  auto once = make_net();
  const std::vector<Index> batch = MinibatchSampler(12, 2, 4, options.seed, 0, 2).batch(0);
  Matrix<double> x(static_cast<Index>(batch.size()), d.cols);
  for (std::size_t k = 0; k < batch.size(); ++k)
    x.row(static_cast<Index>(k)) = d.feature_matrix().row(batch[k]).cast<double>();
  once->forward(x, Mode::kTrain);
  trainer.step();
  EXPECT_EQ(net->layer_state(), once->layer_state());

  // Full batch: flushing the fused update after every step (an evaluation each step) leaves the running statistics
  // as flushing once at the end, bit for bit.
  options.batch = kFullBatch;
  auto each = make_net(), end = make_net();
  Minnorm<double> each_obj(params, d, 3), end_obj(params, d, 3);
  Trainer<double> flushed_each(options, comm, d, d.rows, *each, each_obj);
  Trainer<double> flushed_at_end(options, comm, d, d.rows, *end, end_obj);
  for (int t = 0; t < 3; ++t) {
    flushed_each.step();
    flushed_each.flush_multipliers();
    flushed_at_end.step();
  }
  flushed_at_end.flush_multipliers();
  EXPECT_EQ(each->layer_state(), end->layer_state());
  EXPECT_EQ(each->parameters(), end->parameters());
  EXPECT_EQ(each_obj.multipliers()->values(), end_obj.multipliers()->values());
}

TEST(Trainer, UnbiasedEstimatorScalesDataTermByPOverQ) {
  const Dataset d = small_multiclass(12, 3);
  auto a = make_mlp<double>({5, {}, 3, "identity", false});
  auto b = make_mlp<double>({5, {}, 3, "identity", false});
  a->initialize({"normal", 0.3}, 1);
  b->initialize({"normal", 0.3}, 1);
  Minnorm<double> oa({MinnormTask::kMulticlass, 1.0, 1.0}, d, 3);
  Minnorm<double> ob({MinnormTask::kMulticlass, 1.0, 1.0, MultiplierUpdate::kExact, true}, d, 3);
  for (double& v : oa.multipliers()->values()) v = 0.5;
  for (double& v : ob.multipliers()->values()) v = 0.5;
  LocalComm comm;
  TrainerOptions options;
  options.batch = 4;
  options.virtual_shards = 2;
  options.lr = 0.01;
  Trainer<double> published(options, comm, d, d.rows, *a, oa);
  Trainer<double> unbiased(options, comm, d, d.rows, *b, ob);
  const std::vector<double> w0 = a->parameters();
  published.step();
  unbiased.step();
  // W1 = W0 - eta (W0 + c D) with c = 1 or P/Q = 3: the data parts differ by exactly 3x.
  for (std::size_t i = 0; i < w0.size(); ++i) {
    const double data_published = (w0[i] - a->parameters()[i]) / 0.01 - w0[i];
    const double data_unbiased = (w0[i] - b->parameters()[i]) / 0.01 - w0[i];
    EXPECT_NEAR(data_unbiased, 3.0 * data_published, 1e-9);
  }
}

// Runs `steps` full-batch steps of a cross-entropy Trainer with `options` on a small MLP and, beside
// it, a hand-written reference: update(t, w, grad) applies step t to the reference weights. Checks the
// weights after every step.
template <class Update>
void expect_trainer_follows_reference(TrainerOptions options, int steps, Update&& update) {
  const Dataset d = small_multiclass(8, 4);
  auto net = make_mlp<double>({5, {4}, 3, "relu", true});
  auto ref = make_mlp<double>({5, {4}, 3, "relu", true});
  net->initialize({"he", 1}, 2);
  ref->initialize({"he", 1}, 2);
  CrossEntropy<double> ce;
  LocalComm comm;
  options.batch = kFullBatch;
  options.virtual_shards = 2;
  Trainer<double> trainer(options, comm, d, d.rows, *net, ce);
  std::vector<Index> rows(8);
  std::iota(rows.begin(), rows.end(), 0);
  Matrix<double> x = d.feature_matrix().cast<double>(), g;
  for (int t = 0; t < steps; ++t) {
    trainer.step();
    ce.output_gradient(d, rows, ref->forward(x), 1.0 / 8, g);
    ref->backward(g);
    auto& w = ref->mutable_parameters();
    update(t, w, ref->gradient());
    for (std::size_t i = 0; i < w.size(); ++i) ASSERT_NEAR(net->parameters()[i], w[i], 1e-12) << "step " << t;
  }
}

TEST(Trainer, WeightDecayWithMomentumMatchesPyTorchRule) {
  TrainerOptions options;
  options.lr = 0.1;
  options.momentum = 0.9;
  options.weight_decay = 0.01;
  options.decay_power = 0.5;
  std::vector<double> v;
  expect_trainer_follows_reference(options, 10, [&](int t, std::vector<double>& w, const std::vector<double>& grad) {
    v.resize(w.size(), 0.0);
    const double lambda = 0.01 / std::sqrt(1.0 + t);
    for (std::size_t i = 0; i < w.size(); ++i) {
      v[i] = 0.9 * v[i] + grad[i] + lambda * w[i];
      w[i] -= 0.1 * v[i];
    }
  });
}

TEST(Trainer, LearningRateWarmsUpLinearlyOverTheGivenEpochs) {
  // Full batch: one step per epoch, so warmup_epochs = 4 is W = 4 steps of lr (t+1)/4, then lr.
  TrainerOptions options;
  options.lr = 0.2;
  options.warmup_epochs = 4;
  expect_trainer_follows_reference(options, 7, [](int t, std::vector<double>& w, const std::vector<double>& grad) {
    const double lr = 0.2 * std::min(1.0, (t + 1) / 4.0);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] -= lr * grad[i];
  });
  EXPECT_DOUBLE_EQ(warmup_factor(0, 4), 0.25);
  EXPECT_DOUBLE_EQ(warmup_factor(3, 4), 1.0);
  EXPECT_DOUBLE_EQ(warmup_factor(9, 4), 1.0);
}

TEST(Trainer, RejectsRowsThatAreNotTheOwnedShards) {
  // A rank that does not hold the rows of its shards is an error, not silent corruption.
  Dataset d = small_multiclass(8, 5);
  d.first_id = 3;
  auto net = make_mlp<double>({5, {}, 3, "identity", false});
  CrossEntropy<double> ce;
  LocalComm comm;
  TrainerOptions options;
  options.virtual_shards = 2;
  options.batch = 4;
  EXPECT_THROW(Trainer<double>(options, comm, d, 8, *net, ce), Error);
}

}  // namespace
}  // namespace normscale
