// Where a study keeps its state: STUDY.db, STUDY.runs/<trial id>/ and the default report folder
// STUDY.report/ beside STUDY.toml.
#pragma once

#include <filesystem>
#include <string_view>

namespace normscale {

struct StudyLayout {
  std::filesystem::path study_file;  // absolute
  std::filesystem::path database;    // <dir>/<stem>.db
  std::filesystem::path runs;        // <dir>/<stem>.runs
  std::filesystem::path report;      // <dir>/<stem>.report (normscale report's default)
  std::filesystem::path trial_dir(std::string_view trial_id) const { return runs / trial_id; }
  // Held (flock) by the one scheduler running the study.
  std::filesystem::path scheduler_lock() const { return runs / "scheduler.lock"; }
  // The SLURM backend's job scripts.
  std::filesystem::path slurm_dir() const { return runs / "slurm"; }
};

StudyLayout study_layout(const std::filesystem::path& study_file);

}  // namespace normscale
