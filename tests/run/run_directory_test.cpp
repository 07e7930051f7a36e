// Run directories: config written whole, metrics appended line by line and read back, a used
// directory refused unless resuming.
#include "engine/run/run_directory.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "kernels/common/error.hpp"
#include "tests/support/random.hpp"

namespace kestrel::run {
namespace {

namespace fs = std::filesystem;

class RunDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() /
           ("kestrel-run-test-" + std::to_string(test::test_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
  }
  void TearDown() override { fs::remove_all(root); }
  fs::path root;
};

TEST_F(RunDirectoryTest, WritesConfigAndAppendsMetrics) {
  {
    RunDirectory run(root, "r1", false);
    run.write_config({{"model", "lenet5"}, {"epochs", 10}});
    run.append_metrics({{"epoch", 1}, {"loss", 0.5}});
    run.append_metrics({{"epoch", 2}, {"loss", 0.25}});
  }
  std::ifstream cfg(root / "r1" / "config.json");
  const auto config = nlohmann::json::parse(cfg);
  EXPECT_EQ(config["model"], "lenet5");
  const auto records = read_metrics(root / "r1" / "metrics.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["epoch"], 2);
  EXPECT_DOUBLE_EQ(records[1]["loss"].get<double>(), 0.25);
  EXPECT_FALSE(fs::exists(root / "r1" / "config.json.tmp"));
}

TEST_F(RunDirectoryTest, UsedDirectoryIsRefusedUnlessResuming) {
  { RunDirectory run(root, "r2", false); }
  EXPECT_THROW(RunDirectory(root, "r2", false), Error);
  RunDirectory resumed(root, "r2", true);
  resumed.append_metrics({{"epoch", 3}});
  EXPECT_EQ(read_metrics(root / "r2" / "metrics.jsonl").size(), 1u);
}

TEST_F(RunDirectoryTest, MalformedMetricsLineNamesTheLine) {
  fs::create_directories(root);
  std::ofstream(root / "m.jsonl") << "{\"epoch\": 1}\n{oops\n";
  try {
    read_metrics(root / "m.jsonl");
    FAIL() << "expected kestrel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 2 is not JSON"), std::string::npos) << e.what();
  }
}

TEST(RunDirectory, DefaultNameHasModelDatasetAndTime) {
  const std::string name = RunDirectory::default_name("lenet5", "mnist");
  EXPECT_EQ(name.rfind("lenet5-mnist-", 0), 0u);
  EXPECT_EQ(name.size(), std::string("lenet5-mnist-20261128-001122").size());
}

}  // namespace
}  // namespace kestrel::run
