#pragma once

// Text helpers for messages.

#include <string>
#include <string_view>

namespace aptship {

// TEXT with newlines, tabs and other control bytes written as C escapes
// ("\n", "\t", "\x01") so that an error message stays on one line.
[[nodiscard]] std::string printable(std::string_view text);

// TEXT in single quotes, each ' written as '\'' : one word to sh, always.
[[nodiscard]] std::string shell_quote(std::string_view text);

// TEXT as is when it is made only of characters the shell never
// interprets (letters, digits and _ - . / , : @ % + =), else shell_quote(TEXT).
[[nodiscard]] std::string shell_word(std::string_view text);

} // namespace aptship
