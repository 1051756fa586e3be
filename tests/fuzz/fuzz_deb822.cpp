// libFuzzer target for the deb822 parser: any input must parse or fail
// cleanly in both comment modes, and whatever parses must survive
// write() and a second parse unchanged (names, values and order).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/deb/control.hpp"
#include "aptrepo/deb/deb822.hpp"
#include "aptrepo/deb/version.hpp"

namespace {

using aptship::deb::Comments;
using aptship::deb::Paragraph;

bool same_fields(const std::vector<Paragraph>& a, const std::vector<Paragraph>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& fa = a[i].fields();
    const auto& fb = b[i].fields();
    if (fa.size() != fb.size()) {
      return false;
    }
    for (size_t j = 0; j < fa.size(); ++j) {
      if (fa[j].name != fb[j].name || fa[j].value != fb[j].value) {
        return false;
      }
    }
  }
  return true;
}

void check_round_trip(std::string_view text, Comments comments) {
  auto parsed = aptship::deb::parse(text, "fuzz", comments);
  if (!parsed) {
    // One line, always: callers put it in logs and HTTP responses.
    if (parsed.error().message().find('\n') != std::string::npos) {
      __builtin_trap();
    }
    return;
  }
  std::string written = aptship::deb::write(*parsed);
  // The written form has no comments, so the strict mode must take it.
  auto again = aptship::deb::parse(written, "fuzz", Comments::forbidden);
  if (!again || !same_fields(*parsed, *again) || aptship::deb::write(*again) != written) {
    __builtin_trap();
  }
  for (const Paragraph& paragraph : *parsed) {
    // The validators must not crash on anything the parser yields.
    (void)aptship::deb::check_binary_control(paragraph, "fuzz");
    if (auto version = paragraph.get("Version")) {
      auto parsed_version = aptship::deb::Version::parse(*version);
      if (parsed_version) {
        auto canonical = aptship::deb::Version::parse(parsed_version->to_string());
        if (!canonical || aptship::deb::compare(*canonical, *parsed_version) != 0) {
          __builtin_trap();
        }
      }
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_round_trip(text, Comments::forbidden);
  check_round_trip(text, Comments::allowed);
  return 0;
}
