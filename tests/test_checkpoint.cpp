// Safetensors checkpoints: layout, metadata, and every kind of damaged file.
#include <gtest/gtest.h>

#include <cstring>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include "gradflow/checkpoint.h"
#include "gradflow/model.h"
#include "gradflow/errors.h"
#include "gradflow/files.h"
#include "test_cli.h"
#include "test_files.h"

using namespace gradflow;
using namespace gradflow::testing;
using nlohmann::json;

namespace {
json spec() {
  return resolve_model_spec({{"input", 3}, {"layers", {{{"type", "dense"}, {"units", 4}}, {{"type", "relu"}},
                                                      {{"type", "dense"}, {"units", 2}}}}});
}

std::string saved_model(const std::string& name) {
  Sequential<float> model(spec());
  std::mt19937_64 rng(1);
  model.initialize(rng);
  const std::string path = temp_dir(name) + "/model.safetensors";
  save_checkpoint(path, model, json{{"name", "x"}});
  return path;
}

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

json header_of(const std::string& bytes) {
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  return json::parse(bytes.substr(8, n));
}

std::string with_header(const std::string& bytes, const json& header) {
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  std::string text = header.dump();
  const uint64_t m = text.size();
  std::string out(reinterpret_cast<const char*>(&m), 8);
  return out + text + bytes.substr(8 + n);
}

void expect_error(const std::string& path, const std::string& fragment) {
  try {
    load_checkpoint(path);
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
  }
}
}  // namespace

TEST(Checkpoint, LayoutIsPyTorchStateDict) {
  const std::string bytes = read_all(saved_model("ckpt_layout"));
  const json header = header_of(bytes);
  EXPECT_EQ(header["0.weight"]["shape"], json({4, 3}));
  EXPECT_EQ(header["0.bias"]["shape"], json({4}));
  EXPECT_EQ(header["2.weight"]["shape"], json({2, 4}));
  EXPECT_EQ(header["2.weight"]["dtype"], "F32");
  EXPECT_FALSE(header.contains("1.weight"));
  EXPECT_EQ(header["__metadata__"]["gradflow.format_version"], kCheckpointFormatVersion);
  EXPECT_EQ(json::parse(header["__metadata__"]["gradflow.model"].get<std::string>()), spec());
  EXPECT_EQ(json::parse(header["__metadata__"]["gradflow.config"].get<std::string>())["name"], "x");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + (12 + 4 + 8 + 2) * 4);
}

TEST(Checkpoint, RejectsTruncatedFile) {
  const std::string path = saved_model("ckpt_trunc");
  const std::string bytes = read_all(path);
  write_all(path, bytes.substr(0, bytes.size() - 5));
  expect_error(path, "fall outside");
  write_all(path, bytes.substr(0, 5));
  expect_error(path, "too short");
  write_all(path, "");
  expect_error(path, "too short");
}

TEST(Checkpoint, RejectsBadHeaderLength) {
  const std::string path = saved_model("ckpt_len");
  std::string bytes = read_all(path);
  const uint64_t huge = 1ull << 40;
  std::memcpy(bytes.data(), &huge, 8);
  write_all(path, bytes);
  expect_error(path, "header length");
}

TEST(Checkpoint, RejectsInvalidHeaderJson) {
  const std::string path = saved_model("ckpt_json");
  std::string bytes = read_all(path);
  bytes[8] = '[';
  write_all(path, bytes);
  expect_error(path, "header is not a JSON object");
}

TEST(Checkpoint, RejectsOffsetsOutsideTheFile) {
  const std::string path = saved_model("ckpt_offsets");
  const std::string bytes = read_all(path);
  json header = header_of(bytes);
  header["2.bias"]["data_offsets"] = {1000000, 1000008};
  write_all(path, with_header(bytes, header));
  expect_error(path, "fall outside");
}

TEST(Checkpoint, RejectsShapesThatDisagreeWithTheModel) {
  const std::string path = saved_model("ckpt_shape");
  const std::string bytes = read_all(path);
  json header = header_of(bytes);
  json model = json::parse(header["__metadata__"]["gradflow.model"].get<std::string>());
  model["layers"][0]["units"] = 5;  // the stored 0.weight is [4, 3]
  header["__metadata__"]["gradflow.model"] = model.dump();
  write_all(path, with_header(bytes, header));
  expect_error(path, "tensor 0.weight has shape [4,3], the model expects [5,3]");
}

TEST(Checkpoint, RejectsFilesThatAreNotGradflowCheckpoints) {
  const std::string path = saved_model("ckpt_meta");
  const std::string bytes = read_all(path);
  json header = header_of(bytes);
  header["__metadata__"].erase("gradflow.model");
  write_all(path, with_header(bytes, header));
  expect_error(path, "not a gradflow checkpoint");
  expect_error(path + ".missing", "cannot open");
}

TEST(Checkpoint, WriteIsAtomic) {
  const std::string path = saved_model("ckpt_atomic");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_NO_THROW(load_checkpoint(path));
}

TEST(Checkpoint, MetadataNestedTooDeepIsRefusedNamingTheFile) {
  const std::string path = temp_dir("deep_metadata") + "/deep.safetensors";
  SafetensorsFile file;
  file.tensors["0.weight"] = {{2, 2}, {1, 2, 3, 4}};
  file.metadata["gradflow.model"] = std::string(100000, '[') + std::string(100000, ']');
  write_safetensors(path, file);
  try {
    load_checkpoint(path);
    FAIL() << "metadata nested 100,000 deep was read";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": gradflow.model metadata: JSON nested deeper than 64 levels");
  }
}

namespace {
// A safetensors file from its header JSON text and its data bytes.
std::string raw_safetensors(const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return bytes + header + data;
}
std::string error_reading(const std::string& name, const std::string& bytes) {
  const std::string path = temp_dir("inconsistent") + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  try {
    read_safetensors(path);
  } catch (const InputError& e) {
    return std::string(e.what()).substr(path.size());
  }
  return "no error";
}
}  // namespace

TEST(Checkpoint, InconsistentFilesAreRefusedNamingTheTensor) {
  const std::string four(16, '\0');  // four floats of 0
  const std::string tensor = R"({"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]})";
  EXPECT_EQ(error_reading("ok.safetensors", raw_safetensors("{\"w\": " + tensor + "}", four)), "no error");
  EXPECT_EQ(error_reading("twice.safetensors", raw_safetensors("{\"w\": " + tensor + ", \"w\": " + tensor + "}", four)),
            ": invalid safetensors checkpoint: the header names w twice");
  EXPECT_EQ(error_reading("trailing.safetensors", raw_safetensors("{\"w\": " + tensor + "}", four + "junk")),
            ": invalid safetensors checkpoint: 4 bytes follow the last tensor's data");
  EXPECT_EQ(error_reading("overlap.safetensors",
                          raw_safetensors("{\"w\": " + tensor + ", \"v\": " + tensor + "}", four + four)),
            ": invalid safetensors checkpoint: tensor data overlaps or leaves a gap at byte 16");
}

TEST(Checkpoint, NonFiniteWeightsAreRefusedNamingTheTensor) {
  Sequential<float> model(resolve_model_spec({{"input", 3}, {"layers", {{{"type", "dense"}, {"units", 2}}}}}));
  const std::string path = temp_dir("nan_weights") + "/nan.safetensors";
  save_checkpoint(path, model, nullptr, {});
  SafetensorsFile file = read_safetensors(path);
  file.tensors["0.bias"].values[1] = std::numeric_limits<float>::quiet_NaN();
  write_safetensors(path, file);
  try {
    load_checkpoint(path);
    FAIL() << "a NaN weight was loaded";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": tensor 0.bias holds a non-finite value (nan at element 1)");
  }
}

TEST(Files, WritesThroughLinksAndIntoSpecialFilesWithoutReplacingThem) {
  namespace fs = std::filesystem;
  const std::string dir = temp_dir("special_outputs");
  // a link: its target receives the bytes, the link stays a link
  std::ofstream(dir + "/target") << "old";
  fs::create_symlink(dir + "/target", dir + "/link");
  write_file_atomic(dir + "/link", "new");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir + "/link")));
  std::ifstream target(dir + "/target");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(target)), std::istreambuf_iterator<char>()), "new");
  // a FIFO: a reader on the other end receives the bytes, the FIFO stays a FIFO
  ASSERT_EQ(::mkfifo((dir + "/fifo").c_str(), 0644), 0);
  std::string received;
  std::thread reader([&] {
    std::ifstream in(dir + "/fifo");
    received.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  });
  write_file_atomic(dir + "/fifo", "through the pipe");
  reader.join();
  EXPECT_EQ(received, "through the pipe");
  EXPECT_TRUE(fs::is_fifo(dir + "/fifo"));
  // a device stays a device (as root, a rename over /dev/null would replace it)
  write_file_atomic("/dev/null", "nothing");
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
  // no temporary file is left beside any of them
  for (const auto& entry : fs::directory_iterator(dir)) EXPECT_NE(entry.path().extension(), ".tmp") << entry.path();
}
