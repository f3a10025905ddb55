// Progress line: exact strings of format_progress, terminal redraw and throttled plain lines.
#include "normscale/metrics/progress.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace normscale {
namespace {

TEST(FormatDuration, HoursMinutesSeconds) {
  EXPECT_EQ(format_duration(0), "0:00:00");
  EXPECT_EQ(format_duration(65), "0:01:05");
  EXPECT_EQ(format_duration(3599.6), "1:00:00");  // rounds to the nearest second
  EXPECT_EQ(format_duration(45296), "12:34:56");
  EXPECT_EQ(format_duration(360000), "100:00:00");
  EXPECT_EQ(format_duration(-3), "0:00:00");
  EXPECT_EQ(format_duration(INFINITY), "--:--:--");
}

TEST(FormatProgress, FullState) {
  ProgressState s;
  s.epoch = 2.5;
  s.step = 250;
  s.total_steps = 1000;
  s.train_error = 12.346;
  s.validation_error = 13.0;
  s.samples_per_second = 1234.4;
  s.eta_seconds = 65.2;
  EXPECT_EQ(format_progress(s),
            "epoch 2.50 | step 250/1000 | train 12.35% | val 13.00% | 1234 samples/s | ETA 0:01:05");
}

TEST(FormatProgress, UnknownPartsAreLeftOut) {
  ProgressState s;
  s.epoch = 0.126;
  s.step = 3;
  s.samples_per_second = 99.6;
  EXPECT_EQ(format_progress(s), "epoch 0.13 | step 3 | 100 samples/s | ETA --:--:--");
  s.total_steps = 10;
  s.validation_error = 0.0;
  s.eta_seconds = 7322;
  EXPECT_EQ(format_progress(s), "epoch 0.13 | step 3/10 | val 0.00% | 100 samples/s | ETA 2:02:02");
}

// A regression run's records have losses and no errors: the line shows the losses; an error wins over a loss.
TEST(FormatProgress, LossesStandInForMissingErrors) {
  ProgressState s;
  s.epoch = 1.0;
  s.step = 10;
  s.samples_per_second = 50;
  s.train_loss = 0.012345;
  s.validation_loss = 2.5;
  EXPECT_EQ(format_progress(s),
            "epoch 1.00 | step 10 | train loss 0.01235 | val loss 2.5 | 50 samples/s | ETA --:--:--");
  s.train_error = 1.0;
  s.validation_error = 3.0;
  EXPECT_EQ(format_progress(s), "epoch 1.00 | step 10 | train 1.00% | val 3.00% | 50 samples/s | ETA --:--:--");
}

// Everything a ProgressLine printed to a temporary file.
std::string contents(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;) text.push_back(static_cast<char>(c));
  return text;
}

ProgressState at_step(Index step) {
  ProgressState s;
  s.step = step;
  s.total_steps = 10;
  s.epoch = static_cast<double>(step) / 10.0;
  s.samples_per_second = 100;
  s.eta_seconds = static_cast<double>(10 - step);
  return s;
}

TEST(ProgressLine, TerminalRedrawsOneLineAndFinishEndsIt) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  {
    ProgressLine line(file, 30.0, true);
    EXPECT_TRUE(line.is_terminal());
    line.update(at_step(1));
    line.update(at_step(2));
    line.finish();
    line.finish();  // a second finish adds nothing
  }
  EXPECT_EQ(contents(file), fmt::format("\r{}\x1b[K\r{}\x1b[K\n", format_progress(at_step(1)),
                                       format_progress(at_step(2))));
  std::fclose(file);
}

TEST(ProgressLine, PlainOutputIsThrottledAndFinishPrintsTheLatestState) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  const ProgressLine::Clock::time_point t0{};
  const auto at = [&](double s) {
    return t0 + std::chrono::duration_cast<ProgressLine::Clock::duration>(std::chrono::duration<double>(s));
  };
  ProgressLine line(file, 10.0, false);
  EXPECT_FALSE(line.is_terminal());
  line.update(at_step(1), at(0));    // first update prints
  line.update(at_step(2), at(5));    // too soon
  line.update(at_step(3), at(10));   // 10 s after the last print
  line.update(at_step(4), at(12));   // too soon; printed by finish()
  line.finish();
  line.finish();
  EXPECT_EQ(contents(file), format_progress(at_step(1)) + "\n" + format_progress(at_step(3)) + "\n" +
                                format_progress(at_step(4)) + "\n");
  std::fclose(file);
}

TEST(ProgressLine, FileOutputIsNotATerminal) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  EXPECT_FALSE(ProgressLine(file).is_terminal());
  std::fclose(file);
}

}  // namespace
}  // namespace normscale
