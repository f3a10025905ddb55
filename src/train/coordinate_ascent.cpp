// Exact dual coordinate ascent with CoCoA+ blocks for linear Minnorm (the rule: coordinate_ascent.hpp).
#include "normscale/train/coordinate_ascent.hpp"

#include "normscale/core/error.hpp"
#include "normscale/core/stopwatch.hpp"
#include "normscale/data/data_shard.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <typeindex>

namespace normscale {

namespace {

// A multiplier at a bound of its box is skipped for at most 2^kSkipLevels - 1 visits in a row.
constexpr int kSkipLevels = 6;

// The coordinate rule's states per row, after the multipliers, `outputs` each: skip wait, skip level, and with
// round momentum the multiplier at the last round's start and the rounds since the restart.
enum StateBlock { kWait = 0, kLevel = 1, kLast = 2, kRounds = 3 };
int state_offset(const MinnormParams& p, int outputs, StateBlock block) {
  return MinnormRule::multiplier_count(p, outputs) + block * outputs;
}

template <class T>
bool asks_for_coordinate(const Objective<T>& objective) {
  return objective.rule_type() == std::type_index(typeid(MinnormRule)) &&
         static_cast<const MinnormParams*>(objective.rule_params())->dual == MinnormDual::kCoordinate;
}

}  // namespace

template <class T>
Index coordinate_round_size(const Objective<T>& objective, Index blocks, Index examples) {
  if (!asks_for_coordinate(objective)) return 0;
  const auto local_steps = static_cast<Index>(static_cast<const MinnormParams*>(objective.rule_params())->local_steps);
  // local_steps * blocks may not fit an Index; a round never takes more than the examples.
  return local_steps == 0 || local_steps >= (examples + blocks - 1) / blocks ? examples : local_steps * blocks;
}

template <class T>
std::unique_ptr<CoordinateAscent<T>> CoordinateAscent<T>::make(Communicator& comm, const Dataset& train,
                                                               Index examples, Index blocks, Network<T>& network,
                                                               Objective<T>& objective) {
  if (!asks_for_coordinate(objective)) return nullptr;
  const std::optional<LinearMinnorm> model = linear_minnorm(network, objective);
  NS_CHECK(model.has_value(),
           "objective.dual = \"coordinate\" is exact dual coordinate ascent on a linear model: one dense layer and "
           "one multiplier per output (this network has {} layer(s) counting activations, objective.multipliers = "
           "{}); hint: set "
           "model.hidden = [] (and objective.multipliers = per-output), or objective.dual = \"ascent\" for models "
           "with hidden layers",
           network.layer_count(),
           MinnormRule::single(*static_cast<const MinnormParams*>(objective.rule_params())) ? "single" : "per-output");
  NS_CHECK(!MinnormRule::averaging(*static_cast<const MinnormParams*>(objective.rule_params())),
           "objective.average_from_epoch averages the updates of the step's multiplier rules; objective.dual = "
           "\"coordinate\" takes its own (hint: leave objective.average_from_epoch at inf)");
  return std::make_unique<CoordinateAscent>(comm, train, examples, blocks, network, objective, *model);
}

template <class T>
CoordinateAscent<T>::CoordinateAscent(Communicator& comm, const Dataset& train, Index examples, Index blocks,
                                      Network<T>& network, Objective<T>& objective, LinearMinnorm model)
    : comm_(comm), train_(train), examples_(examples), blocks_(blocks), network_(network),
      store_(*objective.multipliers()), model_(model), squared_norms_(static_cast<std::size_t>(train.rows)),
      momentum_(model.params.round_momentum) {
  for (Index r = 0; r < train.rows; ++r) squared_norms_[static_cast<std::size_t>(r)] = model_.squared_norm(train.row(r));
}

template <class T>
typename CoordinateAscent<T>::BlockSums CoordinateAscent<T>::run_block(std::span<const Index> rows,
                                                                       const std::vector<double>& w,
                                                                       std::vector<double>& change) {
  const MinnormParams& p = model_.params;
  // CoCoA+'s safe sigma counts the blocks that update: shards without examples (fewer examples than shards)
  // would only damp every step.
  const double sigma = static_cast<double>(std::min(blocks_, examples_));
  const int outputs = static_cast<int>(model_.outputs);
  // The skip counters: the rule's own states, right after the multipliers (MinnormRule::dual_states).
  const int skip_offset = state_offset(p, outputs, kWait);
  local_w_ = w;
  std::vector<double> f(static_cast<std::size_t>(outputs));
  std::vector<bool> visit(static_cast<std::size_t>(outputs));
  BlockSums sums;
  for (const Index id : rows) {
    const Index r = id - train_.first_id;
    double* row = store_.row(id);
    double* wait = row + skip_offset;
    double* level = row + state_offset(p, outputs, kLevel);
    const double* last = row + state_offset(p, outputs, kLast);  // round momentum only
    bool any = false;
    for (int c = 0; c < outputs; ++c) {
      // An extrapolated multiplier out of its box is brought back whatever its skip counter.
      const double alpha = row[c];
      visit[static_cast<std::size_t>(c)] = wait[c] <= 0.0 || MinnormRule::project(p, alpha) != alpha;
      if (wait[c] > 0.0) wait[c] -= 1.0;
      any = any || visit[static_cast<std::size_t>(c)];
    }
    if (!any) continue;
    const float* x = train_.row(r);
    const double q = squared_norms_[static_cast<std::size_t>(r)];
    for (int c = 0; c < outputs; ++c) f[static_cast<std::size_t>(c)] = model_.output(local_w_.data(), c, x);
    const Example<double> e = linear_example<double>(train_, r, f.data(), outputs, store_);
    sums.loss += MinnormRule::loss(p, e);
    if (q == 0.0) continue;  // x = 0: its constraint does not depend on w
    // The outputs are independent (one-vs-all): output c's update leaves the other outputs' f as they were.
    for (int c = 0; c < outputs; ++c) {
      if (!visit[static_cast<std::size_t>(c)]) continue;
      const double before = e.alpha[c];
      const double after = MinnormRule::project(p, before + MinnormRule::residual(p, e, c) / (sigma * q));
      // Shrinking (as liblinear's, but per constraint and deterministic): a multiplier that stays at a bound
      // of its box is skipped for the next 2^k - 1 visits, k = 1, 2, ... up to kSkipLevels while it stays
      // there; any change brings it back to every visit. Each constraint is still visited at least once
      // every 2^kSkipLevels rounds, so the ascent converges to the same answer (the certificate checks all).
      if (after == before) {
        if (p.task != MinnormTask::kRegression && (after == 0.0 || after == p.C)) {
          level[c] = std::min(level[c] + 1.0, static_cast<double>(kSkipLevels));
          wait[c] = std::exp2(level[c]) - 1.0;
        }
        continue;
      }
      level[c] = 0.0;
      if (momentum_) sums.against += (before - after) * (after - last[c]);
      e.alpha[c] = after;
      model_.add_example(local_w_.data(), c, sigma * (after - before) * weight_sign(p, e, c), x);
    }
  }
  // u from w + sigma u: one pass here instead of a second update per changed multiplier.
  for (std::size_t i = 0; i < change.size(); ++i) change[i] = (local_w_[i] - w[i]) / sigma;
  return sums;
}

template <class T>
void CoordinateAscent<T>::extrapolate(Index round, std::vector<double>& w, const std::vector<T>& velocity) {
  const int outputs = static_cast<int>(model_.outputs);
  const int last_offset = state_offset(model_.params, outputs, kLast);
  if (momentum_rounds_ < 0.0) {
    // The first round of this process: k from the rows (each holds it; a rank may hold none), agreed.
    std::array<double, 1> k{0.0};
    if (round > 0) {
      if (train_.rows > 0) k[0] = store_.row(train_.first_id)[state_offset(model_.params, outputs, kRounds)];
      comm_.allreduce_max(std::span<double>(k));
    }
    momentum_rounds_ = k[0];
  }
  const double beta = momentum_rounds_ / (momentum_rounds_ + 3.0);
  if (velocity.size() == w.size()) {
    for (std::size_t i = 0; i < w.size(); ++i) w[i] += beta * static_cast<double>(velocity[i]);
  }
  for (Index r = 0; r < train_.rows; ++r) {
    double* alpha = store_.row(train_.first_id + r);
    double* last = alpha + last_offset;
    for (int c = 0; c < outputs; ++c) {
      const double now = alpha[c];
      alpha[c] = now + beta * (now - last[c]);
      last[c] = now;
    }
  }
}

template <class T>
StepStats CoordinateAscent<T>::round(Index round, std::span<const Index> rows, std::vector<T>& velocity) {
  StepStats stats;
  const Stopwatch time;
  const std::size_t n = static_cast<std::size_t>(model_.parameter_count());
  std::vector<double> w(network_.parameters().begin(), network_.parameters().end());
  double comm_seconds = 0.0;
  if (round == 0) {
    // Start consistent with the multipliers: w = w(alpha), 0 on a fresh run.
    w = local_dual_weights(model_, train_, store_, 1.0);
    const Stopwatch reduce;
    comm_.allreduce_sum(std::span<double>(w));
    comm_seconds += reduce.seconds();
  }
  const std::vector<double> start = w;
  if (momentum_) extrapolate(round, w, velocity);
  // The sum of this rank's blocks' changes, then the loss and the restart test's sum: one allreduce.
  std::vector<double> sum(n + 2, 0.0);
  std::vector<double> change(n);
  std::size_t begin = 0;
  Index shard = 0;
  while (begin < rows.size()) {
    // The block of rows[begin]: its rows up to the end of its virtual shard (the rows come in shard order).
    while (virtual_shard(examples_, blocks_, shard).end <= rows[begin]) ++shard;
    const Index end_id = virtual_shard(examples_, blocks_, shard).end;
    std::size_t end = begin;
    while (end < rows.size() && rows[end] < end_id) ++end;
    const BlockSums block = run_block(rows.subspan(begin, end - begin), w, change);
    sum[n] += block.loss;
    sum[n + 1] += block.against;
    for (std::size_t i = 0; i < n; ++i) sum[i] += change[i];
    begin = end;
  }
  const Stopwatch reduce;
  comm_.allreduce_sum(std::span<double>(sum));
  comm_seconds += reduce.seconds();
  auto& params = network_.mutable_parameters();
  for (std::size_t i = 0; i < n; ++i) params[i] = static_cast<T>(w[i] + sum[i]);
  if (momentum_) {
    velocity.resize(n);
    for (std::size_t i = 0; i < n; ++i) velocity[i] = static_cast<T>(static_cast<double>(params[i]) - start[i]);
    momentum_rounds_ = sum[n + 1] > 0.0 ? 0.0 : momentum_rounds_ + 1.0;
    const int outputs = static_cast<int>(model_.outputs);
    const int count_offset = state_offset(model_.params, outputs, kRounds);
    for (Index r = 0; r < train_.rows; ++r) {
      std::fill_n(store_.row(train_.first_id + r) + count_offset, outputs, momentum_rounds_);
    }
  }
  stats.loss_sum = sum[n];
  stats.comm_seconds = comm_seconds;
  stats.multiplier_seconds = std::max(0.0, time.seconds() - comm_seconds);
  stats.bytes_reduced = static_cast<double>(sum.size() * sizeof(double));
  return stats;
}

template Index coordinate_round_size(const Objective<float>&, Index, Index);
template Index coordinate_round_size(const Objective<double>&, Index, Index);
template class CoordinateAscent<float>;
template class CoordinateAscent<double>;

}  // namespace normscale
