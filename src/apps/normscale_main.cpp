// The normscale command line: parses the subcommand, builds and validates the config on every rank,
// runs it. The only place that catches normscale::Error.
#include "normscale/checkpoint/checkpoint.hpp"
#include "normscale/cli/inspect.hpp"
#include "normscale/comm/agreement.hpp"
#include "normscale/comm/communicator_factory.hpp"
#include "normscale/comm/mpi_launcher.hpp"
#include "normscale/core/cpu_feature_guard.hpp"
#include "normscale/core/error.hpp"
#include "normscale/core/memory_reuse.hpp"
#include "normscale/model/gemm_backend.hpp"
#include "normscale/study/report.hpp"
#include "normscale/study/study_runner.hpp"
#include "normscale/train/checkpoint_on_signal.hpp"
#include "normscale/train/config_io.hpp"
#include "normscale/train/presets.hpp"
#include "normscale/train/run.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <exception>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

// CMake may pass the project version; this fallback must match project(VERSION) in CMakeLists.txt.
#ifndef NORMSCALE_VERSION
#define NORMSCALE_VERSION "0.1.0"
#endif

namespace {

constexpr int kErrorExitCode = 2;

// The instruction-set extensions the build took, which every CPU it starts on is checked for.
std::string built_for() {
  if (normscale::kBuiltCpuFeatures == 0) return "any x86-64 CPU";
  std::array<char, 1024> names{};
  normscale::cpu_feature_names(normscale::kBuiltCpuFeatures, names.data(), names.size());
  return fmt::format("CPUs with {} (checked at start-up)", names.data());
}

// A command-line number in [low, high] (NaN, inf and trailing text refused): the message says what was expected,
// where CLI11's own ranges printed 1.79e308 in full and let NaN through.
template <class Number>
CLI::Validator number_in(Number low, Number high, std::string expected) {
  return CLI::Validator(
      [=](const std::string& text) -> std::string {
        Number value{};
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        const bool ok = error == std::errc() && end == text.data() + text.size() && value >= low && value <= high;
        return ok ? std::string() : fmt::format("got {}; expected {}", text, expected);
      },
      expected);
}

CLI::Validator integer_in(std::int64_t low, std::int64_t high = std::int64_t{1} << 20) {
  return number_in<std::int64_t>(low, high, fmt::format("an integer in [{}, {}]", low, high));
}

// `unit`: "seconds", "GB/s", ...
CLI::Validator real_in(double low, double high, const char* unit) {
  return number_in<double>(low, high, fmt::format("a number of {} in [{:g}, {:g}]", unit, low, high));
}

bool mpi_initialized() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  return initialized != 0;
}

// Outside MPI (the study scheduler, inspect) the process is rank 0 of one.
int world_rank() {
  int rank = 0;
  if (mpi_initialized()) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int world_size() {
  int size = 1;
  if (mpi_initialized()) MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

// Only a training started by an MPI launcher initialises MPI. One started alone is one rank whatever MPI
// says (it trains on the local communicator, without Open MPI's ~0.5 s singleton start); commands that
// train nothing do without it (the scheduler spawns children, and an Open MPI singleton that forks is
// trouble). Decided from argv and the environment, before MPI_Init.
bool needs_mpi(int argc, char** argv) {
  return argc >= 2 && std::string_view(argv[1]) == "train" && normscale::started_by_mpi_launcher();
}

std::string processor_name() {
  std::array<char, MPI_MAX_PROCESSOR_NAME> name{};
  int length = 0;
  if (MPI_Get_processor_name(name.data(), &length) != MPI_SUCCESS || length <= 0) return "unknown host";
  return std::string(name.data(), static_cast<std::size_t>(length));
}

// One failure, one message. An error every rank agreed on is said by rank 0 and ends every rank
// normally. A failure of one rank alone is said by that rank, prefixed once with where it happened,
// and takes the whole job down: the others may be waiting for it in a collective.
int report_error(const std::string& message, bool agreed) {
  if (world_size() == 1) {
    std::cerr << "normscale: error: " << message << std::endl;
  } else if (agreed) {
    if (world_rank() == 0) std::cerr << "normscale: error: " << message << std::endl;
  } else {
    // A failed MPI call names its host and world rank already (comm/mpi_check.cpp).
    const bool names_its_rank = message.find("(world rank ") != std::string::npos;
    std::cerr << "normscale: error: "
              << (names_its_rank ? std::string()
                                 : fmt::format("rank {} of {} on {}: ", world_rank(), world_size(), processor_name()))
              << message << std::endl;
    MPI_Abort(MPI_COMM_WORLD, kErrorExitCode);
  }
  return kErrorExitCode;
}

// Collective: `question` as rank 0 answers it (about the run directory, which rank 0 owns).
template <class Question>
bool as_rank_0_sees(normscale::Communicator& comm, Question&& question) {
  std::byte yes{0};
  if (comm.is_root() && question()) yes = std::byte{1};
  comm.broadcast(std::span<std::byte>(&yes, 1), 0);
  return yes != std::byte{0};
}

int run_cli(int argc, char** argv) {
  const bool is_root = world_rank() == 0;

  CLI::App app{"normscale: norm-controlled neural-network training (Minnorm, square loss) at scale"};
  // The kernel family is asked for only when printed (it may start oneDNN's CPU detection).
  app.set_version_flag("--version", [] {
    return fmt::format("normscale {}\ngemm: {} (float64: {})\nconvolutions: {} (float64: {})\nbuilt for: {}",
                       NORMSCALE_VERSION, normscale::gemm_kernel_family<float>(),
                       normscale::gemm_kernel_family<double>(), normscale::convolution_kernel_family<float>(),
                       normscale::convolution_kernel_family<double>(), built_for());
  });
  app.require_subcommand(1);
  app.footer("Every option of a run: normscale train --help (or normscale train --list-options).");

  normscale::ConfigSources sources;
  std::string config_file;
  std::string out;
  bool list_options = false;
  bool list_presets = false;
  CLI::App* train = app.add_subcommand("train", "Train one model as configured");
  train->add_option("--config", config_file, "TOML file of options ([section] key = value)")
      ->type_name("FILE");
  train->add_option("--preset", sources.preset,
                    "start from a named preset (see --list-presets); the file and --set override it")
      ->type_name("NAME");
  train->add_option("--set", sources.overrides,
                    "override one option, KEY=VALUE (repeatable), e.g. --set optim.lr=0.01")
      ->allow_extra_args(false)
      ->type_name("KEY=VALUE");
  train->add_option("--out", out, "run directory (same as --set out=DIR, applied last)")
      ->type_name("DIR");
  std::string device;
  train->add_option("--device", device, "cpu or cuda: where this rank trains (same as --set device=..., applied last)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->type_name("DEVICE");
  bool resume = false;
  train->add_flag("--resume", resume,
                  "continue from the newest checkpoint in the run directory (same as --set resume=true)");
  bool resume_or_start = false;
  train->add_flag("--resume-or-start", resume_or_start,
                  "continue from the newest checkpoint if the run directory has one, else start afresh (for job "
                  "scripts that a scheduler may requeue)");
  bool overwrite = false;
  train->add_flag("--overwrite", overwrite,
                  "replace the run already in the run directory (same as --set overwrite=true)");
  train->add_flag("--list-options", list_options, "print every option with its default and exit");
  train->add_flag("--list-presets", list_presets, "print every preset and exit");
  train->footer(normscale::describe_options());

  std::string inspect_dir;
  CLI::App* inspect = app.add_subcommand("inspect", "Print the latest figures of a run directory as a table");
  inspect->add_option("RUN", inspect_dir, "run directory (the --out of a training)")->required();

  normscale::StudyRunOptions study_options;
  std::string status_file;
  CLI::App* study = app.add_subcommand("study", "Run a study (a grid of trainings) and follow its progress");
  study->require_subcommand(1);
  CLI::App* study_run = study->add_subcommand(
      "run", "Expand STUDY.toml, validate every trial, and run those not done; state in STUDY.db, runs in STUDY.runs/");
  study_run->add_option("STUDY", study_options.study_file, "study file (TOML)")->required();
  study_run->add_option("--backend", study_options.backend, "local (mpirun on this machine) or slurm (sbatch job arrays)")
      ->check(CLI::IsMember({"local", "slurm"}))
      ->capture_default_str();
  study_run->add_option("--cores", study_options.cores, "local: cores the trials share (default: every online CPU)")
      ->check(integer_in(1));
  study_run->add_flag("--dry-run", study_options.dry_run, "list the trials and their commands; run and write nothing");
  study_run->add_flag("--retry-failed", study_options.retry_failed, "run the failed trials again");
  study_run->add_option("--mpiexec", study_options.mpiexec, "local: the MPI launcher of trials of two or more ranks (a 1-rank trial runs the trainer alone)")->capture_default_str();
  study_run->add_option("--trainer", study_options.trainer, "the normscale binary the trials run (default: this one)");
  study_run->add_option("--srun-mpi", study_options.srun_mpi, "slurm: srun --mpi=VALUE (\"\" for plain srun)")
      ->capture_default_str();
  study_run->add_option("--partition", study_options.partition, "slurm: sbatch --partition");
  study_run->add_option("--time", study_options.time_limit,
                        "slurm: sbatch --time of each job (e.g. 4:00:00); a job warned of its end checkpoints and "
                        "is requeued");
  study_run->add_option("--signal-seconds", study_options.signal_seconds,
                        "slurm: how long before its time limit (or at a preemption) a job gets SIGUSR2 to checkpoint")
      ->check(integer_in(10, 65535))
      ->capture_default_str();
  study_run->add_option("--stall-seconds", study_options.stall_seconds,
                        "slurm: cancel and fail a trial SLURM lists as running whose run directory has not grown for "
                        "this long (a hung trainer, a lost node); longer than its evaluation interval; 0: never")
      ->check(real_in(0.0, 1e9, "seconds"))
      ->capture_default_str();
  study_run->add_option("--poll-seconds", study_options.poll_seconds, "slurm: seconds between squeue polls")
      ->check(real_in(0.01, 86400.0, "seconds"))
      ->capture_default_str();
  CLI::App* study_status = study->add_subcommand("status", "Counts by state, one line per trial, the best grid points");
  study_status->add_option("STUDY", status_file, "study file (TOML)")->required();
  bool watch = false;
  double watch_interval = 5.0;
  std::int64_t watch_count = 0;
  study_status->add_flag("--watch", watch, "redraw the status in place every --interval seconds until Ctrl-C");
  study_status->add_option("--interval", watch_interval, "--watch: seconds between refreshes")
      ->check(real_in(0.1, 3600.0, "seconds"))
      ->capture_default_str();
  study_status->add_option("--count", watch_count, "--watch: stop after this many refreshes (0: never)")
      ->check(integer_in(0, std::numeric_limits<std::int64_t>::max()));

  std::string report_study;
  std::string report_out;
  CLI::App* report = app.add_subcommand(
      "report", "Write a study's tables (Markdown, CSV) and plots (PNG, SVG) with an index.html; prints its path");
  report->add_option("STUDY", report_study, "study file (TOML); its database STUDY.db must exist")->required();
  report->add_option("--out", report_out, "report folder (default: STUDY.report beside the study)")
      ->type_name("DIR");
  normscale::ReportOptions report_options;
  report->add_option("--bandwidth", report_options.network.bandwidth_gbps,
                     "scaling projection: a network's allreduce bus bandwidth in GB/s (default: measured from the "
                     "study's multi-rank trials, else 10 assumed)")
      ->type_name("GBPS")
      ->check(real_in(1e-6, 1e6, "GB/s"));
  report->add_option("--latency", report_options.network.latency_us,
                     "scaling projection: the network's latency per allreduce in microseconds (default: 5 assumed)")
      ->type_name("US")
      ->check(real_in(0.0, 1e9, "microseconds"));
  report->add_option("--cores", report_options.cores,
                     "scaling projection: the cores of the machine the trials ran on, for measured vs projected "
                     "(default: this machine's online CPUs; give it when the report is made elsewhere)")
      ->type_name("N")
      ->check(integer_in(1));
  bool no_plots = false;
  report->add_flag("--no-plots", no_plots, "tables and index.html only (no gnuplot needed, e.g. on a compute node)");

  // CLI11 takes an unknown first word for a missing subcommand ("A subcommand is required").
  if (argc >= 2 && argv[1][0] != '-') {
    const std::string word = argv[1];
    const std::vector<CLI::App*> commands = app.get_subcommands({});
    const bool known = std::any_of(commands.begin(), commands.end(),
                                   [&](const CLI::App* command) { return command->get_name() == word; });
    NS_CHECK(known, "unknown command '{}'; expected train, inspect, study or report (see normscale --help)", word);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() != 0) {
      throw normscale::Error(fmt::format("{} (see normscale {}--help)", error.what(),
                                         train->parsed()          ? "train "
                                         : study_run->parsed()    ? "study run "
                                         : study_status->parsed() ? "study status "
                                         : study->parsed()        ? "study "
                                         : report->parsed()       ? "report "
                                                                  : ""));
    }
    // --help and --version: only rank 0 prints.
    std::ostringstream discard;
    return is_root ? app.exit(error) : app.exit(error, discard, discard);
  }

  if (study_run->parsed()) return normscale::run_study(study_options);
  if (study_status->parsed()) {
    if (watch) return normscale::watch_study_status(status_file, watch_interval, watch_count);
    fmt::print("{}", normscale::study_status(status_file));
    return 0;
  }

  if (report->parsed()) {
    report_options.plots = !no_plots;
    return normscale::run_report_command(
        report_study, report_out.empty() ? std::nullopt : std::optional<std::filesystem::path>(report_out),
        report_options);
  }

  if (inspect->parsed()) {
    if (is_root) fmt::print("{}", normscale::inspect_run(inspect_dir));
    return 0;
  }

  if (list_options || list_presets) {
    if (is_root && list_options) fmt::print("{}", normscale::describe_options());
    if (is_root && list_presets) {
      for (const auto& [name, description] : normscale::list_presets()) {
        fmt::print("{:<24}{}\n", name, description);
      }
    }
    return 0;
  }

  // Given, if empty, they are checked like any value (an empty --out was taken as not given: runs/latest).
  if (train->count("--config") > 0) sources.config_file = config_file;
  if (train->count("--out") > 0) sources.out = out;
  if (train->count("--device") > 0) sources.overrides.push_back("device=" + device);
  // Every rank of MPI_COMM_WORLD trains together; a single process (no mpirun) is a world of one.
  const std::unique_ptr<normscale::Communicator> comm = normscale::make_host_communicator();
  normscale::TrainConfig config;
  // A bad option or configuration file on one rank is every rank's error, said once.
  normscale::throw_if_any_rank_failed(*comm, normscale::error_of([&] {
    config = normscale::resolve_config(sources);
    config.resume = config.resume || resume;
    config.overwrite = config.overwrite || overwrite;
    normscale::validate(config);
  }));
  if (resume_or_start && !config.resume) {
    // Resume agrees then on which checkpoint every rank can load, or fails on every rank. A run killed before its
    // first checkpoint is started afresh over what it left (a requeued job would fail for good otherwise).
    config.resume = as_rank_0_sees(*comm, [&] { return !normscale::list_checkpoints(config.out).empty(); });
    if (!config.resume && as_rank_0_sees(*comm, [&] { return normscale::holds_unfinished_run_of(config); })) {
      config.overwrite = true;
    }
  }
  normscale::run_training(config, *comm);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "train") normscale::catch_checkpoint_signal();
  normscale::keep_freed_memory_for_reuse();  // freed buffers reused, not page-faulted in again (memory_reuse.hpp)
  const bool with_mpi = needs_mpi(argc, argv);
  if (with_mpi) MPI_Init(&argc, &argv);
  int exit_code = 0;
  try {
    exit_code = run_cli(argc, argv);
  } catch (const normscale::StoppedAtCheckpoint&) {
    exit_code = normscale::kCheckpointedExitCode;  // every rank, after the checkpoint; rank 0 said so
  } catch (const normscale::AgreedError& error) {
    exit_code = report_error(error.what(), true);
  } catch (const normscale::Error& error) {
    exit_code = report_error(error.what(), false);
  } catch (const std::bad_alloc&) {
    // The library turns the allocations it can foresee into errors naming their option; this is what is left.
    exit_code = report_error(fmt::format(
        "out of memory while running 'normscale {}' (std::bad_alloc); hint: lower the sizes of the run (model.hidden, "
        "optim.batch, data.train_limit) or give the process more memory",
        argc > 1 ? argv[1] : ""),
        false);
  } catch (const std::exception& error) {
    // Not a normscale::Error (a library's own exception): reported the same way.
    exit_code = report_error(error.what(), false);
  }
  if (with_mpi) MPI_Finalize();
  return exit_code;
}
