// CpuExecutor: the step's arithmetic on this rank's CPU: Eigen/OpenBLAS forward and backward on the
// host Network, the Objective's per-example rules, the flat gradient summed over the run's host
// Communicator, SGD on the flat parameter buffer. The Network and Objective are the training state.
#pragma once

#include "normscale/comm/communicator.hpp"
#include "normscale/model/network.hpp"
#include "normscale/objective/objective.hpp"
#include "normscale/optim/sgd.hpp"
#include "normscale/train/step_executor.hpp"

namespace normscale {

template <class T>
class CpuExecutor final : public StepExecutor<T> {
 public:
  CpuExecutor(double momentum, Communicator& comm, const Dataset& train, Network<T>& network, Objective<T>& objective);

  std::string device() const override { return "cpu"; }
  void load_rows(std::span<const Index> rows) override;
  void forward(Mode mode) override;
  void update_multipliers() override;
  void output_gradient(double scale, bool skip_zero_rows, bool lagged_update) override;
  BackwardResult backward_and_reduce(bool sample_noise) override;
  void update_parameters(double lr, double l2) override;
  std::vector<BlockDots> block_dots(std::span<const ParameterBlock> blocks) override;
  void update_blocks(std::span<const ParameterBlock> blocks, std::span<const ScaleAdd> steps, double lr,
                     double l2) override;
  GradientNorms gradient_norms() override;
  ExecutorTimes take_times() override;

  LocalEvaluation evaluate(const Dataset& data, DualTerms* dual) override;
  void forward_each_chunk(const Dataset& data, const ChunkVisitor<T>& visit) override;
  double squared_norm() override;
  Index support_count() override;
  std::vector<T>& velocity() override { return optimizer_.velocity(); }

 private:
  // Evaluation-mode forward over all rows of `data` in chunks; visit(rows, outputs) per chunk.
  template <class Visit>
  void forward_chunks(const Dataset& data, Visit&& visit);

  Communicator& comm_;
  const Dataset& train_;
  Network<T>& network_;
  Objective<T>& objective_;
  Sgd<T> optimizer_;
  std::vector<Index> rows_;
  std::vector<Index> active_;  // positions in rows_ of the examples kept for the backward pass
  bool skip_ = false;          // the last output_gradient left zero rows out
  double loss_sum_ = 0.0;
  double local_grad_sq_ = 0.0;
  ExecutorTimes times_;
  Matrix<T> x_;
  const Matrix<T>* outputs_ = nullptr;  // the last forward's (owned by the network)
  Matrix<T> output_grad_;
  std::vector<double> curvature_;  // per row of the batch, for a curvature-normalized multiplier step
  Matrix<T> active_grad_;
};

}  // namespace normscale
