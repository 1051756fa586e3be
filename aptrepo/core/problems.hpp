#pragma once

// The problems one validation pass finds, reported together: a bad file
// gets one message naming every bad field, not one message per run.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aptrepo/core/error.hpp"

namespace aptship {

class Problems {
public:
  // Records PROBLEM, one short sentence.
  void add(std::string problem) { m_list.push_back(std::move(problem)); }
  // True when nothing was recorded.
  [[nodiscard]] bool empty() const { return m_list.empty(); }
  // The problems in the order found, joined with "; ".
  [[nodiscard]] std::string joined() const {
    std::string out;
    for (const std::string& p : m_list) {
      out += out.empty() ? "" : "; ";
      out += p;
    }
    return out;
  }
  // The problems as one Error.
  [[nodiscard]] Error error() const { return Error(joined()); }
  // Succeeds when nothing was recorded, else fails with error().
  [[nodiscard]] Expected<void> check() const {
    if (empty()) {
      return {};
    }
    return tl::unexpected(error());
  }

private:
  std::vector<std::string> m_list;
};

} // namespace aptship
