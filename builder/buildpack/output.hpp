#pragma once

// Turns a buildpack's streamed output into whole, Heroku-formatted lines.

#include <functional>
#include <string>
#include <string_view>

namespace aptship::buildpack {

// LINE as the pusher sees it: "----->" headings and lines that already
// start with whitespace pass unchanged (buildpacks format their own
// output); any other non-empty line is indented by 7 spaces so that it sits
// under the headings, as Heroku shows tool output.
[[nodiscard]] std::string format_build_line(std::string_view line);

// Cuts chunks of one stream into lines (without "\n" or a trailing "\r")
// and hands each to a sink; keep one per stream so that stdout and stderr
// never splice into one line.
class LineSplitter {
public:
  explicit LineSplitter(std::function<void(std::string_view)> sink) : m_sink(std::move(sink)) {}
  // Emits every line CHUNK completes; keeps the rest for later.
  void feed(std::string_view chunk);
  // Emits a last line that had no newline.
  void finish();

private:
  void emit(std::string_view line);
  std::function<void(std::string_view)> m_sink;
  std::string m_partial;
};

} // namespace aptship::buildpack
