// The test binary's main: GoogleTest's, but a run in which nothing failed, nothing passed and
// something skipped exits 77, ctest's skip code. ctest runs one process per suite
// (cmake/KestrelTestSuites.cmake), so a GPU suite on a machine without a GPU shows as skipped
// rather than passed; a suite with one passing case and one skipped one passes, as it did case
// by case.
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  const int status = RUN_ALL_TESTS();
  const testing::UnitTest& run = *testing::UnitTest::GetInstance();
  if (status == 0 && run.successful_test_count() == 0 && run.skipped_test_count() > 0) return 77;
  return status;
}
