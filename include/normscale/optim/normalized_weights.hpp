// Normalized weight matrices (Theory III), written once for CPU and GPU ranks: each weight matrix is
// W_k = rho_k V_k with ||V_k||_F = 1 (rho_k = ||W_k||_F, so the stored W_k is the whole state and checkpoints
// are unchanged), and a step moves rho_k and V_k separately. With G_k = dL/dW_k of the data loss,
// dL/drho_k = <G_k, V_k>, and both forms take rho_k <- rho_k - eta <G_k, V_k>. They differ in V_k's step:
//
// - lagrange (§6.1, eq. 12-14): gradient descent in V_k, dL/dV_k = rho_k G_k, with the Lagrange term:
//   V_k <- V_k - eta (g_k - 2 lambda_k V_k), g_k = rho_k G_k.
// - tangent (§21, eq. 84-85, the weight-normalization form): the dynamics gradient descent on W_k induces on
//   V_k, dV_k/dt = -(I - V_k V_k^T) G_k / rho_k: the step of g_k = G_k / rho_k in the tangent space. For small
//   steps it follows plain gradient descent on W (tested); lagrange does not (its V-step is rho_k^2 larger).
//
// In both, lambda_k is the root of ||V_k(new)|| = 1 nearest the tangent-space value <g_k, V_k> / 2:
// V_k(new) = sqrt(1 - eta^2 ||g_perp||^2) V_k - eta g_perp, g_perp = g_k - <g_k, V_k> V_k, which keeps
// ||V_k|| = 1 exactly. Where eta ||g_perp|| >= 1 no lambda_k does; the step is then V_k - eta g_perp scaled back
// to unit norm. Both are W_k <- a W_k + b G_k with scalars from three dot products. Parameters outside the
// weight matrices (biases, batch norm's gamma and beta) take the plain gradient step.
#pragma once

#include "normscale/core/types.hpp"
#include "normscale/model/network.hpp"

#include <vector>

namespace normscale {

enum class WeightNormalization { kNone, kLagrange, kTangent };

// "none", "lagrange", "tangent" (optim.normalization).
WeightNormalization weight_normalization_named(const std::string& name);

// One weight matrix's place in the flat parameter (and gradient) buffer.
struct ParameterBlock {
  Index offset = 0;
  Index size = 0;
};

// <W, W>, <W, G>, <G, G> of one block, in double.
struct BlockDots {
  double ww = 0.0;
  double wg = 0.0;
  double gg = 0.0;
};

// W <- a W + b G.
struct ScaleAdd {
  double a = 1.0;
  double b = 0.0;
};

// The step above for one block at learning rate eta. A zero block (no direction) takes the plain step.
ScaleAdd normalized_weight_step(const BlockDots& dots, double lr, WeightNormalization form);

// The blocks of the network's weight matrices, in layer order. Fails, naming the layer, where a layer's
// weight() is not a slice of the parameter buffer (weight-normalised layers compute theirs).
template <class T>
std::vector<ParameterBlock> weight_blocks(const Network<T>& network);

}  // namespace normscale
