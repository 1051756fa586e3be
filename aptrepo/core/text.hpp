#pragma once

// Text helpers for messages.

#include <string>
#include <string_view>

namespace aptship {

// TEXT with newlines, tabs and other control bytes written as C escapes
// ("\n", "\t", "\x01") so that an error message stays on one line.
[[nodiscard]] std::string printable(std::string_view text);

} // namespace aptship
