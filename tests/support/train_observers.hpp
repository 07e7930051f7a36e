#pragma once
// Training observers the trainer tests share: one that says nothing, and one that simulates a
// crash once a given epoch (1-based) has been logged and checkpointed.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "engine/train/trainer.hpp"

namespace kestrel::test {

class Quiet final : public train::TrainObserver {};

class InterruptAfter final : public train::TrainObserver {
 public:
  explicit InterruptAfter(int64_t epoch) : epoch_(epoch) {}
  void on_epoch(const nlohmann::json& record) override {
    if (record.at("epoch").get<int64_t>() == epoch_) throw std::runtime_error("interrupted");
  }

 private:
  int64_t epoch_;
};

}  // namespace kestrel::test
