#include "builder/receive/hook.hpp"

#include <istream>

#include "aptrepo/core/text.hpp"
#include "builder/receive/app_name.hpp"
#include "builder/receive/app_repo.hpp"

namespace aptship::receive {

namespace {

constexpr std::string_view k_heads = "refs/heads/";
constexpr std::string_view k_tags = "refs/tags/";

bool is_object_id(std::string_view id) {
  if (id.size() != 40) {
    return false;
  }
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool is_zero_id(std::string_view id) {
  return id.find_first_not_of('0') == std::string_view::npos;
}

std::string deploy_branch_list(const DeployBranches& branches) {
  std::string out;
  for (const auto& [branch, suite] : branches.suites) {
    out += out.empty() ? "" : ", ";
    out += branch;
  }
  return out.empty() ? "none" : out;
}

} // namespace

std::optional<std::string> DeployBranches::suite_for(std::string_view branch) const {
  auto it = suites.find(branch);
  if (it == suites.end()) {
    return std::nullopt;
  }
  return it->second;
}

Expected<std::vector<RefUpdate>> parse_ref_updates(std::istream& input) {
  std::vector<RefUpdate> updates;
  std::string line;
  size_t number = 0;
  while (std::getline(input, line)) {
    ++number;
    if (line.empty()) {
      continue;
    }
    const size_t first = line.find(' ');
    const size_t second = first == std::string::npos ? first : line.find(' ', first + 1);
    if (second == std::string::npos) {
      return make_error("hook input line {}: expected 'OLD NEW REF', got '{}'", number,
                        printable(line.substr(0, 200)));
    }
    RefUpdate update{line.substr(0, first), line.substr(first + 1, second - first - 1),
                     line.substr(second + 1)};
    if (!is_object_id(update.old_id) || !is_object_id(update.new_id) ||
        !update.ref.starts_with("refs/") ||
        update.ref.find_first_of(" \t\r") != std::string::npos) {
      return make_error("hook input line {}: expected 'OLD NEW REF', got '{}'", number,
                        printable(line.substr(0, 200)));
    }
    updates.push_back(std::move(update));
  }
  if (input.bad()) {
    return make_error("reading the hook's input failed");
  }
  return updates;
}

RefDecision classify_ref(const RefUpdate& update, const DeployBranches& branches) {
  std::string_view ref = update.ref;
  if (ref.starts_with(k_heads)) {
    std::string_view branch = ref.substr(k_heads.size());
    std::optional<std::string> suite = branches.suite_for(branch);
    if (!suite) {
      return {RefAction::accept, "",
              fmt::format("branch {} is not a deploy branch ({}): accepted without a build", branch,
                          deploy_branch_list(branches))};
    }
    if (is_zero_id(update.new_id)) {
      return {RefAction::accept, "",
              fmt::format("branch {} deleted: nothing to build, suite {} keeps its packages",
                          branch, *suite)};
    }
    return {RefAction::build, *suite, ""};
  }
  if (ref.starts_with(k_tags)) {
    std::string_view tag = ref.substr(k_tags.size());
    if (is_zero_id(update.new_id)) {
      return {RefAction::accept, "", fmt::format("tag {} deleted", tag)};
    }
    return {RefAction::accept, "", fmt::format("tag {}: accepted without a build", tag)};
  }
  return {RefAction::accept, "", fmt::format("{}: accepted without a build", ref)};
}

Expected<void> run_pre_receive(const DataDir& data, std::string_view app, std::string_view pusher,
                               std::istream& input, const BuildFn& build, const OutputSink& output,
                               const DeployBranches& branches) {
  TRY(validate_app_name(app));
  TRY_ASSIGN(std::vector<RefUpdate> updates, parse_ref_updates(input));
  for (const RefUpdate& update : updates) {
    RefDecision decision = classify_ref(update, branches);
    if (decision.action == RefAction::accept) {
      output(fmt::format("-----> {}", decision.reason));
      continue;
    }
    PushedRef pushed{std::string(app),
                     app_repo_path(data, app),
                     std::string(pusher),
                     update.old_id,
                     update.new_id,
                     update.ref,
                     update.ref.substr(k_heads.size()),
                     decision.suite};
    TRY_CTX(build(pushed, output), fmt::format("push of branch {} rejected", pushed.branch));
  }
  return {};
}

} // namespace aptship::receive
