#include "engine/run/run_directory.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>

#include "kernels/common/error.hpp"

namespace kestrel::run {

namespace fs = std::filesystem;

void write_file_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  KESTREL_CHECK(fd >= 0, "cannot write {}: {}", tmp.string(), std::strerror(errno));
  size_t done = 0;
  bool ok = true;
  while (done < text.size() && ok) {
    const ssize_t w = ::write(fd, text.data() + done, text.size() - done);
    ok = w > 0;
    if (ok) done += static_cast<size_t>(w);
  }
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    KESTREL_FAIL("cannot write {}: {}", path.string(), std::strerror(err));
  }
}

RunDirectory::RunDirectory(const fs::path& root, const std::string& name, bool resume)
    : path_(root / name) {
  std::error_code ec;
  fs::create_directories(path_, ec);
  KESTREL_CHECK(!ec, "cannot create run directory {}: {}", path_.string(), ec.message());
  const fs::path metrics = path_ / kMetricsFile;
  KESTREL_CHECK(resume || !fs::exists(metrics),
                "run directory {} already holds a run: choose another --out/--name, or --resume it",
                path_.string());
  metrics_ = std::fopen(metrics.c_str(), "a");
  KESTREL_CHECK(metrics_ != nullptr, "cannot open {}: {}", metrics.string(), std::strerror(errno));
}

RunDirectory::~RunDirectory() {
  if (metrics_) std::fclose(metrics_);
}

void RunDirectory::write_config(const nlohmann::json& config) const {
  write_file_atomically(path_ / kConfigFile, config.dump(2) + "\n");
}

void RunDirectory::append_metrics(const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  const bool ok = std::fwrite(line.data(), 1, line.size(), metrics_) == line.size() &&
                  std::fflush(metrics_) == 0 && ::fsync(::fileno(metrics_)) == 0;
  KESTREL_CHECK(ok, "cannot append to {}: {}", (path_ / kMetricsFile).string(),
                std::strerror(errno));
}

std::string RunDirectory::default_name(const std::string& model, const std::string& dataset) {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &utc);
  return model + "-" + dataset + "-" + stamp;
}

std::vector<nlohmann::json> read_metrics(const fs::path& file) {
  std::ifstream in(file);
  KESTREL_CHECK(in.good(), "cannot read {}", file.string());
  std::vector<nlohmann::json> records;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    try {
      records.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      KESTREL_FAIL("{}: line {} is not JSON ({})", file.string(), number, e.what());
    }
  }
  return records;
}

}  // namespace kestrel::run
