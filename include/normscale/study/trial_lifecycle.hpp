// The steps every backend takes around a trial: prepare its run directory, record how it ended.
#pragma once

#include "normscale/study/study_file.hpp"
#include "normscale/study/study_layout.hpp"
#include "normscale/study/trial_command.hpp"
#include "normscale/study/trial_store.hpp"

#include <ctime>
#include <filesystem>
#include <optional>
#include <string>

namespace normscale {

struct PreparedTrial {
  TrialInvocation invocation;
  std::filesystem::path log;        // <dir>/log.txt: the trainer's stdout and stderr
  std::filesystem::path lock;       // <dir>/trial.lock: held while the trainer runs
  std::filesystem::path exit_code;  // <dir>/exit_code: written by a SLURM job script at its end
};

// Creates <runs>/<id>/, writes config.toml (the trial's config with out = that folder, no console
// progress), resumes when a checkpoint is there (a run cut short), and starts a log section.
PreparedTrial prepare_trial(const StudyLayout& layout, const Trial& trial);

// Whether the run directory holds a checkpoint to resume from.
bool has_checkpoint(const std::filesystem::path& run_dir);

// Reads the run directory and records the trial, in one transaction, as done (exit code 0 and at least
// one evaluation) or failed (exit code and log tail), with its figures and metrics rows. `wall_seconds`
// (measured by the scheduler) is stored as a figure too; `finished` (UTC) is when it ended, where that was before
// now (it ended while no scheduler followed it). Returns the state recorded.
TrialState record_trial_end(TrialStore& store, const StudyLayout& layout, const std::string& trial_id, int exit_code,
                            double wall_seconds, std::optional<MetricTarget> target,
                            std::optional<std::time_t> finished = std::nullopt);

}  // namespace normscale
