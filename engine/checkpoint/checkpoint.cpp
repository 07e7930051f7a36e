#include "engine/checkpoint/checkpoint.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/optim/adam.hpp"
#include "engine/optim/muon.hpp"
#include "engine/optim/sgd.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::checkpoint {

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// Metadata keys (see checkpoint.hpp).
constexpr const char* kFormat = "format";
constexpr const char* kFormatVersion = "kestrel.format_version";
constexpr const char* kVersion = "kestrel.version";
constexpr const char* kCommit = "kestrel.commit";
constexpr const char* kModel = "model";
constexpr const char* kDataset = "dataset";
constexpr const char* kEpoch = "epoch";
constexpr const char* kStep = "step";
constexpr const char* kSeed = "seed";
constexpr const char* kRngPosition = "rng_position";
constexpr const char* kConfig = "config";
constexpr const char* kOptimizer = "optimizer";
constexpr const char* kOptimizerSteps = "optimizer.steps";
constexpr const char* kOptimizerHparams = "optimizer.hparams";
constexpr const char* kOptimizerParamOffsets = "optimizer.param_offsets";

bool is_reserved_key(std::string_view key) {
  for (std::string_view k :
       {kFormat, kModel, kDataset, kEpoch, kStep, kSeed, kRngPosition, kConfig, kOptimizer}) {
    if (key == k) return true;
  }
  return key.starts_with("kestrel.") || key.starts_with("optimizer.");
}

bool is_json(const std::string& text) { return Json::accept(text); }

// Shortest text that reads back as the same float: "0.001", not 0.0010000000474974513.
std::string number(float v) { return fmt::format("{}", v); }

template <class Int>
Int parse_integer(const std::map<std::string, std::string>& metadata, const char* key,
                  const std::string& path) {
  const auto it = metadata.find(key);
  KESTREL_CHECK(it != metadata.end(), "checkpoint {}: metadata has no \"{}\"", path, key);
  const std::string& text = it->second;
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  KESTREL_CHECK(ec == std::errc() && end == text.data() + text.size() && !text.empty(),
                "checkpoint {}: metadata \"{}\" is \"{}\", not an integer", path, key, text);
  return value;
}

std::string required_string(const std::map<std::string, std::string>& metadata, const char* key,
                            const std::string& path) {
  const auto it = metadata.find(key);
  KESTREL_CHECK(it != metadata.end(), "checkpoint {}: metadata has no \"{}\"", path, key);
  return it->second;
}

std::string optional_string(const std::map<std::string, std::string>& metadata, const char* key) {
  const auto it = metadata.find(key);
  return it == metadata.end() ? std::string() : it->second;
}

// Each parameter's element range in the optimizer's flat buffer, from the parameters' addresses:
// they must be f32 views on the state's device, in order and without overlap, covering the
// state's elements but for gaps of under 64: the graph aligns each parameter to 64 elements,
// and that padding (zero, never updated) belongs to no parameter.
std::string param_offsets_json(const NamedTensors& params, const Tensor& flat_state,
                               const std::string& path) {
  struct Placed {
    const std::string* name;
    uintptr_t address;
    int64_t numel;
  };
  std::vector<Placed> placed;
  for (const auto& [name, t] : params) {
    KESTREL_CHECK(t.dtype() == DType::F32 && t.device() == flat_state.device(),
                  "cannot save checkpoint {}: parameter {} is {}, but the optimizer state is "
                  "f32 on {}",
                  path, name, t.str(), flat_state.device().str());
    placed.push_back({&name, reinterpret_cast<uintptr_t>(t.raw_data()), t.numel()});
  }
  std::sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) {
    return a.address != b.address ? a.address < b.address : a.numel < b.numel;
  });
  OrderedJson offsets = OrderedJson::object();
  int64_t next = 0;
  const uintptr_t base = placed.empty() ? 0 : placed.front().address;
  for (const Placed& p : placed) {
    const int64_t begin = static_cast<int64_t>((p.address - base) / sizeof(float));
    KESTREL_CHECK(begin >= next && begin - next < 64,
                  "cannot save checkpoint {}: the parameters are not one flat buffer that the "
                  "optimizer state matches ({} starts at element {}; the previous parameter "
                  "ends at {})",
                  path, *p.name, begin, next);
    next = begin + p.numel;
    offsets[*p.name] = OrderedJson::array({begin, next});
  }
  KESTREL_CHECK(next <= flat_state.numel() && flat_state.numel() - next < 64,
                "cannot save checkpoint {}: the parameters span {} elements but the optimizer "
                "state has {}",
                path, next, flat_state.numel());
  return offsets.dump();
}

std::map<std::string, std::string> checkpoint_metadata(const NamedTensors& params,
                                                       const optim::Optimizer* optimizer,
                                                       const CheckpointState& state,
                                                       const std::string& path) {
  std::map<std::string, std::string> md;
  for (const auto& [key, value] : state.extra) {
    KESTREL_CHECK(!is_reserved_key(key),
                  "cannot save checkpoint {}: extra metadata key \"{}\" is reserved", path, key);
    md[key] = value;
  }
  KESTREL_CHECK(state.config.empty() || is_json(state.config),
                "cannot save checkpoint {}: config is not a JSON document", path);
  md[kFormat] = "pt";
  md[kFormatVersion] = std::to_string(kCheckpointFormatVersion);
  if (!state.kestrel_version.empty()) md[kVersion] = state.kestrel_version;
  if (!state.kestrel_commit.empty()) md[kCommit] = state.kestrel_commit;
  md[kModel] = state.model;
  md[kDataset] = state.dataset;
  md[kEpoch] = std::to_string(state.epoch);
  md[kStep] = std::to_string(state.step);
  md[kSeed] = std::to_string(state.seed);
  md[kRngPosition] = std::to_string(state.rng_position);
  if (!state.config.empty()) md[kConfig] = state.config;
  if (optimizer != nullptr) {
    md[kOptimizer] = optimizer->name();
    md[kOptimizerSteps] = std::to_string(optimizer->step_count());
    md[kOptimizerHparams] = optimizer_hparams_json(*optimizer);
    const optim::NamedState opt_state = optimizer->state();
    if (!opt_state.empty()) {
      md[kOptimizerParamOffsets] = param_offsets_json(params, opt_state.front().second, path);
    }
  }
  return md;
}

// optimizer.hparams: an object of numbers, booleans and flat lists of numbers (betas), with a
// valid learning rate.
void check_hparams(const std::string& text, const std::string& path) {
  const Json hparams = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  bool valid = hparams.is_object() && hparams.contains("lr") && hparams["lr"].is_number();
  if (valid) {
    for (const auto& [key, value] : hparams.items()) {
      const bool flat_list =
          value.is_array() &&
          std::all_of(value.begin(), value.end(), [](const Json& v) { return v.is_number(); });
      valid = valid && (value.is_number() || value.is_boolean() || flat_list);
    }
  }
  KESTREL_CHECK(valid,
                "checkpoint {}: optimizer.hparams is not an object of numbers with an lr: {}", path,
                text.size() <= 200 ? text : text.substr(0, 200) + "...");
  const double lr = hparams["lr"].get<double>();
  KESTREL_CHECK(lr >= 0.0 && std::isfinite(static_cast<float>(lr)),
                "checkpoint {}: invalid learning rate {} in optimizer.hparams", path, lr);
}

// The checkpoint's hyperparameters against the live optimizer's, all but the learning rate.
void check_same_hparams(const std::string& saved_text, const optim::Optimizer& optimizer,
                        const std::string& path) {
  const Json saved = Json::parse(saved_text);
  const Json live = Json::parse(optimizer_hparams_json(optimizer));
  for (const auto& [key, value] : live.items()) {
    if (key == "lr" || !saved.contains(key)) continue;
    KESTREL_CHECK(saved[key] == value,
                  "checkpoint {}: its {} has {} {} but this run's has {} (resume with the same "
                  "optimizer settings, or restore the parameters only)",
                  path, optimizer.name(), key, saved[key].dump(), value.dump());
  }
}

}  // namespace

std::string optimizer_hparams_json(const optim::Optimizer& optimizer) {
  // Written by hand rather than through nlohmann so that the floats keep their short form.
  if (const auto* adam = dynamic_cast<const optim::Adam*>(&optimizer)) {
    const optim::AdamOptions o = adam->options();
    return fmt::format(
        R"({{"lr": {}, "betas": [{}, {}], "eps": {}, "weight_decay": {}, "amsgrad": false}})",
        number(o.lr), number(o.beta1), number(o.beta2), number(o.eps), number(o.weight_decay));
  }
  if (const auto* sgd = dynamic_cast<const optim::Sgd*>(&optimizer)) {
    const optim::SgdOptions o = sgd->options();
    return fmt::format(
        R"({{"lr": {}, "momentum": {}, "dampening": {}, "weight_decay": {}, "nesterov": {}}})",
        number(o.lr), number(o.momentum), number(o.dampening), number(o.weight_decay),
        o.nesterov ? "true" : "false");
  }
  if (const auto* muon = dynamic_cast<const optim::Muon*>(&optimizer)) {
    const optim::MuonOptions& o = muon->options();
    return fmt::format(
        R"({{"lr": {}, "momentum": {}, "dampening": {}, "weight_decay": {}, "nesterov": {}, )"
        R"("muon_lr": {}, "muon_momentum": {}, "muon_nesterov": {}, "ns_steps": {}, )"
        R"("normalize_weights": {}, "muon_matrices": {}}})",
        number(optimizer.lr()), number(o.sgd.momentum), number(o.sgd.dampening),
        number(o.sgd.weight_decay), o.sgd.nesterov ? "true" : "false", number(o.lr),
        number(o.momentum), o.nesterov ? "true" : "false", o.ns_steps,
        o.normalize_weights ? "true" : "false", o.matrices.size());
  }
  return fmt::format(R"({{"lr": {}}})", number(optimizer.lr()));
}

void save_checkpoint(const std::string& path, const NamedTensors& params,
                     const optim::Optimizer* optimizer, const CheckpointState& state,
                     const NamedTensors& buffers) {
  std::set<std::string_view> names;
  NamedTensors all = params;
  all.insert(all.end(), buffers.begin(), buffers.end());
  for (const auto& [name, tensor] : all) {
    KESTREL_CHECK(!name.starts_with(kOptimizerPrefix),
                  "cannot save checkpoint {}: parameter name {} uses the reserved prefix \"{}\"",
                  path, name, kOptimizerPrefix);
    KESTREL_CHECK(names.insert(name).second,
                  "cannot save checkpoint {}: parameter name {} appears twice", path, name);
  }
  const auto metadata = checkpoint_metadata(params, optimizer, state, path);
  NamedTensors tensors = all;
  if (optimizer != nullptr) {
    for (const auto& [name, buffer] : optimizer->state()) {
      tensors.emplace_back(std::string(kOptimizerPrefix) + name, buffer);
    }
  }
  write_safetensors(path, tensors, metadata);
}

LoadedCheckpoint load_checkpoint(const std::string& path) {
  LoadedCheckpoint out;
  out.path = path;
  out.file = read_safetensors(path);
  const auto& md = out.file.metadata;
  CheckpointState& s = out.state;
  if (!md.contains(kFormatVersion)) {
    s.extra = md;
    return out;
  }
  out.has_kestrel_metadata = true;
  const int64_t version = parse_integer<int64_t>(md, kFormatVersion, path);
  KESTREL_CHECK(version >= 1 && version <= kCheckpointFormatVersion,
                "checkpoint {}: format version {}; this kestrel reads version {}", path, version,
                kCheckpointFormatVersion);
  s.model = required_string(md, kModel, path);
  s.dataset = required_string(md, kDataset, path);
  s.epoch = parse_integer<int64_t>(md, kEpoch, path);
  s.step = parse_integer<int64_t>(md, kStep, path);
  s.seed = parse_integer<uint64_t>(md, kSeed, path);
  s.rng_position = parse_integer<uint64_t>(md, kRngPosition, path);
  s.config = optional_string(md, kConfig);
  KESTREL_CHECK(s.config.empty() || is_json(s.config),
                "checkpoint {}: metadata \"config\" is not a JSON document", path);
  s.kestrel_version = optional_string(md, kVersion);
  s.kestrel_commit = optional_string(md, kCommit);
  if (md.contains(kOptimizer)) {
    s.optimizer = md.at(kOptimizer);
    s.optimizer_steps = parse_integer<int64_t>(md, kOptimizerSteps, path);
    KESTREL_CHECK(s.optimizer_steps >= 0, "checkpoint {}: negative optimizer.steps {}", path,
                  s.optimizer_steps);
    s.optimizer_hparams = required_string(md, kOptimizerHparams, path);
    check_hparams(s.optimizer_hparams, path);
  }
  for (const auto& [key, value] : md) {
    if (!is_reserved_key(key)) s.extra[key] = value;
  }
  return out;
}

void restore_parameters(const LoadedCheckpoint& checkpoint, const NamedTensors& params,
                        std::string_view expected_model) {
  const std::string& path = checkpoint.path;
  const std::string model = expected_model.empty() ? "the model" : std::string(expected_model);
  const std::string& saved_model = checkpoint.state.model;
  KESTREL_CHECK(saved_model.empty() || expected_model.empty() || saved_model == expected_model,
                "checkpoint {} is for {}, not {}", path, saved_model, expected_model);

  // Every check before the first copy, so that a refused checkpoint changes nothing. Names
  // first, all of them in one line: a file of another architecture differs in many.
  std::set<std::string_view> live_names;
  std::vector<std::string_view> missing, unexpected;
  for (const auto& [name, live] : params) {
    live_names.insert(name);
    if (checkpoint.file.find(name) == nullptr) missing.push_back(name);
  }
  for (const auto& entry : checkpoint.file.entries) {
    if (!entry.name.starts_with(kOptimizerPrefix) && !entry.name.starts_with(kEmaPrefix) &&
        !entry.name.starts_with(kLookaheadPrefix) &&
        !live_names.contains(entry.name))
      unexpected.push_back(entry.name);
  }
  const auto listed = [](const std::vector<std::string_view>& names) {
    constexpr size_t kShown = 12;
    std::string out;
    for (size_t i = 0; i < names.size() && i < kShown; ++i)
      out += (i > 0 ? ", " : "") + std::string(names[i]);
    if (names.size() > kShown) out += fmt::format(" and {} more", names.size() - kShown);
    return out;
  };
  KESTREL_CHECK(
      missing.empty() && unexpected.empty(), "checkpoint {} does not match {}: {}{}{}", path, model,
      missing.empty() ? ""
                      : fmt::format("missing {} ({})", listed(missing),
                                    missing.size() == 1 ? "needed" : "all needed"),
      !missing.empty() && !unexpected.empty() ? "; " : "",
      unexpected.empty() ? ""
                         : fmt::format("unexpected {} (not in the model)", listed(unexpected)));
  for (const auto& [name, live] : params) {
    const SafetensorsFile::Entry* saved = checkpoint.file.find(name);
    KESTREL_CHECK(saved->shape == live.shape(),
                  "checkpoint {}: {} has shape {} in the checkpoint but {} in {}", path, name,
                  saved->shape.str(), live.shape().str(), model);
    KESTREL_CHECK(saved->dtype == live.dtype(),
                  "checkpoint {}: {} is {} in the checkpoint but {} in {}", path, name,
                  safetensors_dtype_name(saved->dtype), safetensors_dtype_name(live.dtype()),
                  model);
  }
  for (const auto& [name, live] : params) {
    Tensor target = live;
    target.copy_from(checkpoint.file.find(name)->tensor);
  }
}

bool has_tensors_under(const LoadedCheckpoint& checkpoint, std::string_view prefix) {
  return std::any_of(checkpoint.file.entries.begin(), checkpoint.file.entries.end(),
                     [&](const auto& entry) { return entry.name.starts_with(prefix); });
}

void restore_under(const LoadedCheckpoint& checkpoint, std::string_view prefix,
                   const NamedTensors& targets) {
  const std::string& path = checkpoint.path;
  for (const auto& [name, live] : targets) {
    const std::string saved_name = std::string(prefix) + name;
    const SafetensorsFile::Entry* saved = checkpoint.file.find(saved_name);
    KESTREL_CHECK(saved != nullptr, "checkpoint {} has no tensor {}", path, saved_name);
    KESTREL_CHECK(saved->shape == live.shape() && saved->dtype == live.dtype(),
                  "checkpoint {}: {} is {} {} but the model's is {} {}", path, saved_name,
                  safetensors_dtype_name(saved->dtype), saved->shape.str(),
                  safetensors_dtype_name(live.dtype()), live.shape().str());
  }
  for (const auto& [name, live] : targets) {
    Tensor target = live;
    target.copy_from(checkpoint.file.find(std::string(prefix) + name)->tensor);
  }
}

bool has_ema(const LoadedCheckpoint& checkpoint) { return has_tensors_under(checkpoint, kEmaPrefix); }

void restore_ema(const LoadedCheckpoint& checkpoint, const NamedTensors& params) {
  restore_under(checkpoint, kEmaPrefix, params);
}

void restore_optimizer(const LoadedCheckpoint& checkpoint, optim::Optimizer& optimizer,
                       const Tensor& flat_params) {
  const std::string& path = checkpoint.path;
  const CheckpointState& s = checkpoint.state;
  KESTREL_CHECK(!s.optimizer.empty(),
                "checkpoint {} holds no optimizer state (it has the weights only)", path);
  KESTREL_CHECK(s.optimizer == optimizer.name(),
                "checkpoint {}: the optimizer state is {}'s, not {}'s", path, s.optimizer,
                optimizer.name());
  check_same_hparams(s.optimizer_hparams, optimizer, path);

  optim::NamedState state;
  for (const auto& entry : checkpoint.file.entries) {
    if (!entry.name.starts_with(kOptimizerPrefix)) continue;
    KESTREL_CHECK(entry.tensor.numel() == flat_params.numel(),
                  "checkpoint {}: {} has {} elements but the parameters have {}", path, entry.name,
                  entry.tensor.numel(), flat_params.numel());
    state.emplace_back(entry.name.substr(kOptimizerPrefix.size()),
                       entry.tensor.to(flat_params.device()));
  }
  const float lr = Json::parse(s.optimizer_hparams)["lr"].get<float>();  // checked on load
  try {
    optimizer.load_state(s.optimizer_steps, state);
    optimizer.set_lr(lr);
  } catch (const Error& e) {
    KESTREL_FAIL("checkpoint {}: {}", path, e.message());
  }
}

}  // namespace kestrel::checkpoint
