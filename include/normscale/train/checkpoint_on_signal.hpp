// Preemption and time limits: SIGUSR2 (what a SLURM job script forwards ahead of a time limit or a
// preemption; not SIGUSR1, which NCCL uses) makes the run write a checkpoint at the next step boundary
// that every rank agrees on and stop with kCheckpointedExitCode, so that the job can be requeued and the
// run resumed from that checkpoint (`--resume-or-start`) on the same trajectory.
#pragma once

#include "normscale/train/run_checkpoints.hpp"
#include "normscale/train/training_callback.hpp"

#include <csignal>
#include <stdexcept>

namespace normscale {

inline constexpr int kCheckpointSignal = SIGUSR2;
// EX_TEMPFAIL of sysexits.h: "try again later" — the run is unfinished but safe in its checkpoint.
inline constexpr int kCheckpointedExitCode = 75;

// Thrown on every rank once the checkpoint is written; the command line turns it into kCheckpointedExitCode.
class StoppedAtCheckpoint : public std::runtime_error {
 public:
  StoppedAtCheckpoint(Index step, const std::string& message) : std::runtime_error(message), step_(step) {}
  Index step() const { return step_; }

 private:
  Index step_;
};

// Catches kCheckpointSignal from now on (its default action ends the process): `normscale train` calls it
// first thing, so that a signal during start-up is kept for the first step, not fatal. Blocks the signal in the
// calling thread (and so in the threads it starts later) and takes it on a thread of its own, never on one running
// a GEMM (see the .cpp: a signal there corrupts the heap).
void catch_checkpoint_signal();
// True once kCheckpointSignal reached this process after catch_checkpoint_signal().
bool checkpoint_signal_received();

template <class T>
class CheckpointOnSignal final : public TrainingCallback<T> {
 public:
  // Registered after `checkpoints`, which writes through it.
  explicit CheckpointOnSignal(RunCheckpoints<T>& checkpoints) : checkpoints_(checkpoints) {}

  // Collective: after every step the ranks agree (a max over one flag: the signal may reach one rank, or
  // reach the ranks at different steps) and, if any was signalled, checkpoint and throw StoppedAtCheckpoint.
  void step_end(TrainingContext<T>& context, Index step) override;

 private:
  RunCheckpoints<T>& checkpoints_;
};

}  // namespace normscale
