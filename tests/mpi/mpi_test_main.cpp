// GoogleTest main for the MPI suites: every rank runs every test, only rank 0 prints gtest's report,
// a failing rank > 0 prints its own failed assertions to stderr, and every rank exits non-zero when
// any rank failed.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

// Stands in for gtest's printer on ranks > 0: silent unless something fails there.
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : prefix_("[rank " + std::to_string(rank) + "] ") {}

  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::ostringstream text;
    text << prefix_ << (result.file_name() != nullptr ? result.file_name() : "unknown file") << ':'
         << result.line_number() << ": Failure\n";
    std::istringstream summary(result.summary());
    for (std::string line; std::getline(summary, line);) text << prefix_ << line << '\n';
    std::cerr << text.str() << std::flush;  // one write, so ranks interleave by whole messages
  }

  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (!info.result()->Failed()) return;
    std::cerr << (prefix_ + "[  FAILED  ] " + info.test_suite_name() + "." + info.name() + "\n")
              << std::flush;
  }

 private:
  std::string prefix_;
};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);

  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (rank != 0) {
    delete listeners.Release(listeners.default_result_printer());
    // One report file per job, not one per rank overwriting each other.
    delete listeners.Release(listeners.default_xml_generator());
    listeners.Append(new RankFailurePrinter(rank));
  }

  // --gtest_list_tests prints outside the listeners: let rank 0 alone list (and run nothing).
  const bool only_root_lists = rank != 0 && GTEST_FLAG_GET(list_tests);
  const int local_result = only_root_lists ? 0 : RUN_ALL_TESTS();
  const int local_failed =
      local_result != 0 ? std::max(1, ::testing::UnitTest::GetInstance()->failed_test_count()) : 0;

  // Rank 0's report only covers rank 0; it also names the other ranks that failed.
  std::vector<int> failed_per_rank(static_cast<std::size_t>(size), 0);
  MPI_Gather(&local_failed, 1, MPI_INT, failed_per_rank.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  int total_failed = 0;
  MPI_Allreduce(&local_failed, &total_failed, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0 && total_failed > 0) {
    std::ostringstream summary;
    summary << "[  MPI     ] " << total_failed << " failed test(s) summed over " << size
            << " ranks; failing ranks:";
    for (int r = 0; r < size; ++r) {
      if (failed_per_rank[static_cast<std::size_t>(r)] > 0) {
        summary << ' ' << r << " (" << failed_per_rank[static_cast<std::size_t>(r)] << ')';
      }
    }
    summary << "; ranks other than 0 print their failures to stderr prefixed [rank N]\n";
    std::cout << summary.str() << std::flush;
  }

  MPI_Finalize();
  return total_failed > 0 ? 1 : 0;
}
