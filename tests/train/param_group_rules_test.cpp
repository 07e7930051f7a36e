// Parameter groups by name (train --param-group, TrainConfig::param_groups): the rule syntax,
// good and bad; a rule's JSON form; which group each of LeNet-5's parameters joins (the
// expected groups written out by hand per name, first match wins, --no-decay-norm-bias's
// exemption for the unmatched ones); a rule that matches nothing and too many groups are
// refused; the optimizer's tables the rules make and each epoch's rate scales.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "engine/nn/param_groups.hpp"
#include "engine/optim/sgd.hpp"
#include "engine/train/param_group_plan.hpp"
#include "engine/train/param_group_rule.hpp"
#include "models/registry.hpp"
#include "tests/support/errors.hpp"

namespace kestrel::train {
namespace {

ParamGroupRule rule(std::string pattern, double lr = 1.0, double wd = 1.0, int64_t epochs = 0) {
  return {std::move(pattern), lr, wd, epochs};
}

TEST(ParamGroupRule, ParsesPatternsAndOptionalKeys) {
  EXPECT_EQ(parse_param_group_rule("conv1.*"), rule("conv1.*"));
  EXPECT_EQ(parse_param_group_rule("conv1.*:lr=64,wd=0.015625,epochs=3"),
            rule("conv1.*", 64.0, 0.015625, 3));
  EXPECT_EQ(parse_param_group_rule("*.bias:wd=0"), rule("*.bias", 1.0, 0.0));
  EXPECT_EQ(parse_param_group_rule("fc?.weight:epochs=2,lr=1e-3"),
            rule("fc?.weight", 1e-3, 1.0, 2));
  EXPECT_EQ(parse_param_group_rule("features.[0-3].*:lr=0"), rule("features.[0-3].*", 0.0));
  EXPECT_EQ(parse_param_group_rule("x:epochs=0"), rule("x"));
}

TEST(ParamGroupRule, ItsStringReadsBackAsTheSameRule) {
  for (const ParamGroupRule& r :
       {rule("conv1.*", 64.0, 0.015625, 3), rule("*.bias", 0.1, 0.0), rule("a", 1.0 / 3.0)}) {
    SCOPED_TRACE(param_group_rule_str(r));
    EXPECT_EQ(parse_param_group_rule(param_group_rule_str(r)), r);
  }
  EXPECT_EQ(param_group_rule_str(rule("conv1.*", 64.0, 0.015625, 3)),
            "conv1.*:lr=64,wd=0.015625,epochs=3");
}

TEST(ParamGroupRule, RefusesBadRulesWithOneClearLine) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "parameter group rule '': no pattern before ':'"},
      {":lr=2", "no pattern before ':'"},
      {"x:", "'' is not KEY=VALUE (keys: lr, wd, epochs)"},
      {"x:lr", "'lr' is not KEY=VALUE"},
      {"x:=2", "'=2' is not KEY=VALUE"},
      {"x:lr=2,", "'' is not KEY=VALUE"},
      {"x:lr=2;wd=1", "lr=2;wd=1 is not a number >= 0"},
      {"x:foo=1", "parameter group rule 'x:foo=1': unknown key 'foo' (keys: lr, wd, epochs)"},
      {"x:LR=1", "unknown key 'LR'"},
      {"x:lr=1,lr=2", "lr is given twice"},
      {"x:lr=", "lr= is not a number >= 0"},
      {"x:lr=-1", "parameter group rule 'x:lr=-1': lr=-1 is not a number >= 0"},
      {"x:lr=-0", "lr=-0 is not a number >= 0"},
      {"x:wd=-0.5", "wd=-0.5 is not a number >= 0"},
      {"x:lr=abc", "lr=abc is not a number >= 0"},
      {"x:lr=2x", "lr=2x is not a number >= 0"},
      {"x:lr=nan", "lr=nan is not a number >= 0"},
      {"x:wd=inf", "wd=inf is not a number >= 0"},
      {"x:lr=1e999", "lr=1e999 is not a number >= 0"},
      {"x:epochs=1.5", "epochs=1.5 is not a whole number >= 0"},
      {"x:epochs=-2", "epochs=-2 is not a whole number >= 0"},
      {"x:epochs=", "epochs= is not a whole number >= 0"},
  };
  for (const auto& [text, message] : bad) {
    SCOPED_TRACE(text);
    try {
      parse_param_group_rule(text);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(e.message().find(message), std::string::npos) << e.message();
      EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
    }
  }
}

TEST(ParamGroupRule, JsonRoundTripAndDefaults) {
  const ParamGroupRule r = rule("block1.*", 0.25, 2.0, 5);
  const nlohmann::json j = param_group_rule_json(r);
  EXPECT_EQ(j, nlohmann::json::parse(R"({"pattern": "block1.*", "lr_scale": 0.25,
                                         "weight_decay_scale": 2.0, "train_epochs": 5})"));
  EXPECT_EQ(param_group_rule_from_json(j), r);
  EXPECT_EQ(param_group_rule_from_json(nlohmann::json::parse(R"({"pattern": "fc3.*"})")),
            rule("fc3.*"));
  EXPECT_THROW(param_group_rule_from_json(nlohmann::json::parse(R"({"lr_scale": 2})")),
               nlohmann::json::exception);
  test::expect_error([] { check_param_group_rule(rule("x", -1.0)); },
                     "parameter group rule 'x:lr=-1,wd=1,epochs=0'");
  test::expect_error([] { check_param_group_rule(rule("")); }, "parameter group rule ':lr=1");
  test::expect_error([] { check_param_group_rule(rule("x", 1.0, 1.0, -1)); }, "epochs=-1");
  check_param_group_rule(rule("x", 0.0, 0.0, 3));
}

// LeNet-5 (conv1, conv2, fc1, fc2, fc3, each a weight and a bias), built.
std::unique_ptr<nn::Graph> lenet5() {
  auto graph = models::build_model("lenet5", models::ModelInput{1, 28, 28, 10});
  Context ctx;
  graph->build(ctx, 2);
  return graph;
}

// Each parameter's group in the index, by name, after checking that all its elements agree;
// and the padding's elements are all group 0.
std::map<std::string, int> groups_by_name(nn::Graph& graph, const Tensor& index) {
  EXPECT_EQ(index.numel(), graph.parameters().numel());
  const uint8_t* g = index.data<uint8_t>();
  std::vector<bool> covered(static_cast<size_t>(index.numel()), false);
  std::map<std::string, int> out;
  for (const nn::ParamInfo& p : graph.parameter_infos()) {
    out[p.name] = g[p.offset];
    for (int64_t i = 0; i < p.shape.numel(); ++i) {
      EXPECT_EQ(g[p.offset + i], g[p.offset]) << p.name << " element " << i;
      covered[static_cast<size_t>(p.offset + i)] = true;
    }
  }
  for (size_t i = 0; i < covered.size(); ++i) {
    if (!covered[i]) {
      EXPECT_EQ(g[i], 0) << "padding element " << i;
    }
  }
  return out;
}

TEST(NamedGroupIndex, EachParameterJoinsTheFirstRuleThatMatchesIt) {
  auto graph = lenet5();
  // conv1.weight matches rules 0 and 1: rule 0 wins; conv1.bias matches 1 and 2: rule 1.
  const Tensor index =
      nn::named_group_index(*graph, {"conv*.weight", "conv1.*", "*.bias"}, false, Device::cpu());
  const std::map<std::string, int> expected = {
      {"conv1.weight", 1}, {"conv1.bias", 2}, {"conv2.weight", 1}, {"conv2.bias", 3},
      {"fc1.weight", 0},   {"fc1.bias", 3},   {"fc2.weight", 0},   {"fc2.bias", 3},
      {"fc3.weight", 0},   {"fc3.bias", 3}};
  EXPECT_EQ(groups_by_name(*graph, index), expected);
}

TEST(NamedGroupIndex, TheExemptionAppliesToTheUnmatchedParametersAsGroupOne) {
  auto graph = lenet5();
  const Tensor index =
      nn::named_group_index(*graph, {"conv1.*", "fc3.weight"}, true, Device::cpu());
  const std::map<std::string, int> expected = {
      {"conv1.weight", 2}, {"conv1.bias", 2}, {"conv2.weight", 0}, {"conv2.bias", 1},
      {"fc1.weight", 0},   {"fc1.bias", 1},   {"fc2.weight", 0},   {"fc2.bias", 1},
      {"fc3.weight", 3},   {"fc3.bias", 1}};
  EXPECT_EQ(groups_by_name(*graph, index), expected);
  // Without rules: weight_decay_group_index's groups, and without the exemption all group 0.
  EXPECT_EQ(groups_by_name(*graph, nn::named_group_index(*graph, {}, true, Device::cpu())),
            groups_by_name(*graph, nn::weight_decay_group_index(*graph, Device::cpu())));
  for (const auto& [name, group] :
       groups_by_name(*graph, nn::named_group_index(*graph, {}, false, Device::cpu())))
    EXPECT_EQ(group, 0) << name;
}

TEST(NamedGroupIndex, ARuleThatMatchesNothingOrTooManyGroupsAreRefused) {
  auto graph = lenet5();
  test::expect_error(
      [&] {
        nn::named_group_index(*graph, {"conv1.*", "conv9.*"}, false, Device::cpu());
      },
      "parameter group pattern 'conv9.*' matches no trainable parameter (their names are like "
      "conv1.weight, conv1.bias, conv2.weight, conv2.bias, ...: 10 in all)");
  // A pattern must match the whole name.
  test::expect_error([&] { nn::named_group_index(*graph, {"conv1"}, false, Device::cpu()); },
                     "'conv1' matches no trainable parameter");
  // A later pattern whose parameters all went to earlier ones would have no group either.
  test::expect_error(
      [&] {
        nn::named_group_index(*graph, {"*.bias", "fc3.bias"}, false, Device::cpu());
      },
      "parameter group pattern 'fc3.bias' matches only parameters that an earlier pattern took "
      "(fc3.bias, ...): the first pattern that matches a parameter wins");
  test::expect_error(
      [&] {
        nn::named_group_index(*graph, {"conv1.*", "conv2.*", "fc1.*"}, true, Device::cpu());
      },
      "3 parameter group patterns and the unmatched parameters' 2 group(s) make 5, more than "
      "the 4 supported");
}

TEST(ParamGroupPlan, TheTablesOfTheRulesAndTheExemption) {
  auto graph = lenet5();
  const ParamGroupPlan none = plan_param_groups({}, false, *graph, Device::cpu());
  EXPECT_FALSE(none.groups.index.defined());
  EXPECT_TRUE(none.train_epochs.empty());

  const ParamGroupPlan exempt = plan_param_groups({}, true, *graph, Device::cpu());
  EXPECT_TRUE(exempt.groups.index.defined());
  EXPECT_EQ(exempt.groups.weight_decay_scale, (std::vector<double>{1.0, 0.0}));
  EXPECT_TRUE(exempt.groups.lr_scale.empty());  // as before rules existed

  const ParamGroupPlan both = plan_param_groups(
      {rule("conv1.*", 64.0, 0.015625, 3), rule("fc3.*", 0.5, 2.0)}, true, *graph, Device::cpu());
  EXPECT_EQ(both.groups.weight_decay_scale, (std::vector<double>{1.0, 0.0, 0.015625, 2.0}));
  EXPECT_EQ(both.groups.lr_scale, (std::vector<double>{1.0, 1.0, 64.0, 0.5}));
  EXPECT_EQ(both.train_epochs, (std::vector<int64_t>{0, 0, 3, 0}));
  EXPECT_EQ(groups_by_name(*graph, both.groups.index)["conv1.bias"], 2);
  EXPECT_EQ(groups_by_name(*graph, both.groups.index)["fc3.bias"], 3);
  EXPECT_EQ(groups_by_name(*graph, both.groups.index)["fc2.bias"], 1);

  test::expect_error(
      [&] {
        plan_param_groups({rule("conv1.*"), rule("conv2.*"), rule("fc1.*")}, true, *graph,
                          Device::cpu());
      },
      "3 parameter group rule(s) make 5 groups, more than the 4 supported: the parameters no "
      "rule matches are one group, two with --no-decay-norm-bias");
}

TEST(ParamGroupPlan, AGroupStopsOnceItsEpochsHavePassed) {
  auto graph = lenet5();
  const ParamGroupPlan plan = plan_param_groups(
      {rule("conv1.*", 3.0, 1.0, 2), rule("fc3.*", 0.5, 1.0, 1), rule("fc1.*", 2.0)}, false, *graph,
      Device::cpu());
  optim::Sgd opt(optim::SgdOptions{});
  opt.set_param_groups(plan.groups);
  const std::vector<std::vector<double>> expected = {
      {1.0, 3.0, 0.5, 2.0}, {1.0, 3.0, 0.0, 2.0}, {1.0, 0.0, 0.0, 2.0}, {1.0, 0.0, 0.0, 2.0}};
  for (int64_t epoch = 0; epoch < 4; ++epoch) {
    set_epoch_lr_scales(opt, plan, epoch);
    EXPECT_EQ(opt.param_groups().lr_scale, expected[static_cast<size_t>(epoch)]) << epoch;
  }
  // Straight to a later epoch (a resumed run's first): the same scales.
  optim::Sgd resumed(optim::SgdOptions{});
  resumed.set_param_groups(plan.groups);
  set_epoch_lr_scales(resumed, plan, 2);
  EXPECT_EQ(resumed.param_groups().lr_scale, expected[2]);
}

}  // namespace
}  // namespace kestrel::train
