#pragma once

// The pre-receive hook: git hands it one "OLD NEW REF" line per updated
// ref before moving any of them. Deploy branches are built; a failed build
// makes the hook fail, so git rejects the push and no branch moves.

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/data_dir.hpp"
#include "aptrepo/core/error.hpp"

namespace aptship::receive {

// Which branches deploy, and to which suite.
struct DeployBranches {
  std::map<std::string, std::string, std::less<>> suites = {{"main", "staging"},
                                                            {"master", "staging"}};

  // The suite BRANCH deploys to, or nullopt when it does not deploy.
  [[nodiscard]] std::optional<std::string> suite_for(std::string_view branch) const;
};

// One line of the hook's input.
struct RefUpdate {
  std::string old_id; // 40 hex digits; all zeros when the ref is created
  std::string new_id; // 40 hex digits; all zeros when the ref is deleted
  std::string ref;    // "refs/heads/main", "refs/tags/v1", ...
};

// Parses the hook's input; a malformed line is an error naming it.
[[nodiscard]] Expected<std::vector<RefUpdate>> parse_ref_updates(std::istream& input);

// What the hook does with one ref update.
enum class RefAction {
  build,  // a deploy branch moved to a commit: build it
  accept, // anything else: let it through without a build
};

struct RefDecision {
  RefAction action = RefAction::accept;
  std::string suite;  // with RefAction::build
  std::string reason; // with RefAction::accept: a line for the pusher
};

// Decides what to do with UPDATE: a deploy branch set to a commit builds;
// deletions, other branches, tags and other refs are accepted.
[[nodiscard]] RefDecision classify_ref(const RefUpdate& update, const DeployBranches& branches);

// A deploy branch push, as the build pipeline receives it.
struct PushedRef {
  std::string app;
  std::filesystem::path repo; // the app's bare repository
  std::string pusher;         // the key name, or the local user for a local push
  std::string old_id;         // all zeros for the first push of the branch
  std::string new_id;         // the commit to build
  std::string ref;            // "refs/heads/main"
  std::string branch;         // "main"
  std::string suite;          // "staging"
};

// Receives the build's output, one line at a time, as it happens.
using OutputSink = std::function<void(std::string_view line)>;

// Builds and publishes one pushed commit; an error rejects the push.
using BuildFn = std::function<Expected<void>(const PushedRef& ref, const OutputSink& output)>;

// Runs the pre-receive hook of APP: reads the updates from INPUT, tells
// the pusher through OUTPUT what happens to each ref, and calls BUILD for
// each deploy branch in input order. The first failed build stops the
// hook with an error naming the branch; the caller exits non-zero.
[[nodiscard]] Expected<void> run_pre_receive(const DataDir& data, std::string_view app,
                                             std::string_view pusher, std::istream& input,
                                             const BuildFn& build, const OutputSink& output,
                                             const DeployBranches& branches = {});

} // namespace aptship::receive
