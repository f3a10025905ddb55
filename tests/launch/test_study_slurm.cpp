// `normscale study run --backend slurm` against a real single-node SLURM started on this machine
// (launch/slurm/local_cluster.sh): two trials as one job array, results collected into the database,
// a hostile study name kept out of every shell. Skipped, visibly, without slurmctld / munged or root.
#include "normscale/study/shell_quote.hpp"
#include "normscale/study/trial_store.hpp"
#include "support/run_command.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace normscale {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kRepository = fs::path(NORMSCALE_TEST_DATA_DIR).parent_path().parent_path();

// The value of `export NAME=value` in the cluster script's output ("" when absent).
std::string exported(const std::string& output, const std::string& name) {
  const std::string key = "export " + name + "=";
  const auto at = output.find(key);
  if (at == std::string::npos) return {};
  const auto begin = at + key.size();
  return output.substr(begin, output.find_first_of(";\n", begin) - begin);
}

class StudySlurm : public testing::TempDirTest {
 protected:
  StudySlurm() : TempDirTest("normscale_study_slurm_") {}

  void SetUp() override {
    TempDirTest::SetUp();
    for (const char* program : {"slurmctld", "slurmd", "munged", "sbatch", "squeue"}) {
      if (testing::run_shell(std::string("PATH=$PATH:/usr/sbin command -v ") + program).exit_code != 0) {
        GTEST_SKIP() << "SLURM test skipped: " << program << " is not installed (launch/setup.sh installs "
                     << "slurm-wlm and munge)";
      }
    }
    if (geteuid() != 0) GTEST_SKIP() << "SLURM test skipped: the local cluster needs root";
    const auto started = testing::run_shell(shell_quote((kRepository / "launch/slurm/local_cluster.sh").string()) + " start");
    ASSERT_EQ(started.exit_code, 0) << started.output;
    cluster_dir_ = exported(started.output, "NORMSCALE_SLURM_DIR");
    const std::string conf = exported(started.output, "SLURM_CONF");
    ASSERT_FALSE(conf.empty()) << started.output;
    setenv("SLURM_CONF", conf.c_str(), 1);
  }

  void TearDown() override {
    if (!cluster_dir_.empty()) {
      testing::run_shell(shell_quote((kRepository / "launch/slurm/local_cluster.sh").string()) + " stop " +
                         shell_quote(cluster_dir_));
    }
    TempDirTest::TearDown();
  }

  std::string cluster_dir_;
};

TEST_F(StudySlurm, TinyStudyRunsAsAJobArrayAndIsCollected) {
  const fs::path marker = dir_ / "pwned";
  const std::string hostile = "s'; touch " + marker.string() + "; $(touch " + marker.string() + ") `touch " +
                              marker.string() + "`";
  const fs::path file = dir_ / "tiny.toml";
  std::ofstream(file) << "name = \"" << hostile << "\"\nsteps = 20\n[base]\n\"data.source\" = \"separable-2d\"\n"
                      << "\"data.synthetic_examples\" = 100\n\"model.hidden\" = [4]\n\"objective.task\" = \"binary\"\n"
                      << "\"optim.batch\" = 20\n\"objective.s\" = 0.1\n\"objective.rho\" = 1\nvirtual_shards = 4\n"
                      << "eval_every = 5\ngallery = 0\n[grid]\n\"optim.lr\" = [0.01, 0.02]\n";
  const auto run = testing::run_normscale("study run --backend slurm --poll-seconds 0.5 " + shell_quote(file.string()));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("submitted job array"));
  EXPECT_FALSE(fs::exists(marker));

  const TrialStore store(dir_ / "tiny.db");
  const std::vector<TrialRecord> trials = store.trials();
  ASSERT_EQ(trials.size(), 2U);
  for (const TrialRecord& trial : trials) {
    EXPECT_EQ(trial.state, TrialState::kDone) << trial.log_tail;
    EXPECT_EQ(trial.exit_code, 0);
    EXPECT_EQ(store.metrics(trial.id).size(), 5U);  // steps 0, 5, 10, 15, 20
    bool has_steps = false;
    for (const auto& [key, value] : store.results(trial.id)) has_steps |= key == "steps" && value == 20.0;
    EXPECT_TRUE(has_steps);
    const fs::path dir = dir_ / "tiny.runs" / trial.id;
    EXPECT_TRUE(fs::exists(dir / "exit_code"));
    std::ifstream log(dir / "log.txt");
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    EXPECT_THAT(text, HasSubstr("SLURM job"));
  }
  // The generated script is valid sh.
  for (const auto& entry : fs::directory_iterator(dir_ / "tiny.runs" / "slurm")) {
    EXPECT_EQ(testing::run_shell("sh -n " + shell_quote(entry.path().string())).exit_code, 0) << entry.path();
  }
}

}  // namespace
}  // namespace normscale
