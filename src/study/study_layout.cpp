// The study's files beside the study file.
#include "normscale/study/study_layout.hpp"

namespace normscale {

StudyLayout study_layout(const std::filesystem::path& study_file) {
  StudyLayout layout;
  layout.study_file = std::filesystem::absolute(study_file).lexically_normal();
  const std::filesystem::path dir = layout.study_file.parent_path();
  const std::string stem = layout.study_file.stem().string();
  layout.database = dir / (stem + ".db");
  layout.runs = dir / (stem + ".runs");
  layout.report = dir / (stem + ".report");
  return layout;
}

}  // namespace normscale
