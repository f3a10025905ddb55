// The checkpoint signal: a flag set by the handler, agreed on by the ranks after each step.
#include "normscale/train/checkpoint_on_signal.hpp"

#include <fmt/format.h>

#include <pthread.h>

#include <cstdio>
#include <thread>

namespace normscale {
namespace {

volatile std::sig_atomic_t signal_received = 0;

void on_checkpoint_signal(int /*signal*/) { signal_received = 1; }

}  // namespace

void catch_checkpoint_signal() {
  struct sigaction action {};
  action.sa_handler = on_checkpoint_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // a blocking call (file, MPI) it interrupts carries on
  sigaction(kCheckpointSignal, &action, nullptr);
  // oneDNN's JIT GEMMs point the stack pointer into the heap (uxlfoundation/oneDNN#4845): a handler run on a thread
  // inside one writes its signal frame there, and the heap is corrupted (1-3% of SIGUSR2s to a training crashed in
  // an audit). So the signal is blocked here, and so in every thread started from now on (the GEMMs' OpenMP workers,
  // MPI's, the watchdog), and one thread that runs no GEMM waits for it. Threads a library started before main (the
  // OpenBLAS pool) may still take it with the handler: they run no JIT code.
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, kCheckpointSignal);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  std::thread([blocked] {
    for (;;) {
      int signal = 0;
      if (sigwait(&blocked, &signal) == 0) signal_received = 1;
    }
  }).detach();
}

bool checkpoint_signal_received() { return signal_received != 0; }

template <class T>
void CheckpointOnSignal<T>::step_end(TrainingContext<T>& context, Index step) {
  double requested = checkpoint_signal_received() ? 1.0 : 0.0;
  if (context.comm.size() > 1) context.comm.allreduce_max(std::span<double>(&requested, 1));
  if (requested == 0.0) return;
  checkpoints_.save_unless_saved(context, step);
  const std::string message = fmt::format(
      "stopped by SIGUSR2 after step {} with its checkpoint written in {}/checkpoints; continue with --resume "
      "(or --resume-or-start)",
      step, context.config.out);
  if (context.comm.is_root()) {
    fmt::print("normscale: {}\n", message);
    std::fflush(stdout);
  }
  throw StoppedAtCheckpoint(step, message);
}

template class CheckpointOnSignal<float>;
template class CheckpointOnSignal<double>;

}  // namespace normscale
