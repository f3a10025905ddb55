// The study's files beside the study file.
#include "normscale/study/study_layout.hpp"

#include "normscale/core/error.hpp"

namespace normscale {

StudyLayout study_layout(const std::filesystem::path& study_file) {
  StudyLayout layout;
  layout.study_file = std::filesystem::absolute(study_file).lexically_normal();
  const std::filesystem::path dir = layout.study_file.parent_path();
  const std::string stem = layout.study_file.stem().string();
  layout.database = dir / (stem + ".db");
  NS_CHECK(layout.database != layout.study_file,
           "study file {} ends in .db, the name of its own database; expected a TOML study file named STEM.toml",
           layout.study_file.string());
  layout.runs = dir / (stem + ".runs");
  layout.report = dir / (stem + ".report");
  return layout;
}

}  // namespace normscale
