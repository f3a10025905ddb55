// The data files' identity that the ranks of a run compare: equal for equal files wherever they lie, and
// changed by a byte at either end, by the size, and (gzip'ed files) by any byte of the content.
#include "normscale/data/file_identity.hpp"
#include "support/data_files.hpp"
#include "support/error_text.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>

namespace normscale {
namespace {

// 300 KiB of pseudo-random bytes: more than both ends' 64 KiB together, also gzip'ed.
testing::Bytes content() {
  testing::Bytes bytes(300 * 1024);
  std::uint64_t state = 1;
  for (auto& byte : bytes) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    byte = static_cast<std::uint8_t>(state >> 56);
  }
  return bytes;
}

class FileIdentity : public testing::TempDirTest {
 protected:
  FileIdentity() : TempDirTest("normscale_file_identity_") {}

  std::uint64_t raw(const std::string& name, const testing::Bytes& bytes) {
    testing::write_bytes(path(name), bytes);
    return files_identity({path(name)});
  }
};

TEST_F(FileIdentity, IsTheSameForTheSameBytesAnywhere) {
  EXPECT_EQ(raw("a", content()), raw("b", content()));
  EXPECT_NE(files_identity({path("a"), path("b")}), files_identity({path("a")})) << "the file count counts";
}

TEST_F(FileIdentity, ChangesWithEitherEndOrTheSize) {
  const std::uint64_t original = raw("original", content());
  testing::Bytes first = content(), last = content(), shorter = content(), middle = content();
  first.front() ^= 1;
  last.back() ^= 1;
  shorter.pop_back();
  middle[150 * 1024] ^= 1;
  EXPECT_NE(raw("first", first), original);
  EXPECT_NE(raw("last", last), original);
  EXPECT_NE(raw("shorter", shorter), original);
  EXPECT_EQ(raw("middle", middle), original) << "a raw file's middle is not read (the documented limit)";
}

TEST_F(FileIdentity, CoversAllOfAGzipFilesContent) {
  testing::Bytes middle = content();
  middle[150 * 1024] ^= 1;
  testing::write_gzip(path("a.gz"), content());
  testing::write_gzip(path("b.gz"), middle);
  ASSERT_GT(std::filesystem::file_size(path("a.gz")), 200u * 1024) << "its middle must lie beyond both ends";
  EXPECT_NE(files_identity({path("a.gz")}), files_identity({path("b.gz")}));
}

TEST_F(FileIdentity, AFileThatCannotBeOpenedIsNamed) {
  const std::string said = testing::error_of([&] { files_identity({path("missing.npy")}); });
  EXPECT_NE(said.find("missing.npy"), std::string::npos) << said;
}

}  // namespace
}  // namespace normscale
