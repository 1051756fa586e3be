#pragma once

// Quoting of values written into the generated shell scripts and into the
// env file, which both POSIX sh and systemd's EnvironmentFile= read.

#include <string>
#include <string_view>

namespace aptship::stage {

// "KEY=VALUE" as a line of the env file. VALUE (one line, checked by the
// caller) is left bare when it holds only characters both readers take
// literally, else put in double quotes with \ " ` $ escaped by a
// backslash: the one quoting on which sh's `.` and systemd's
// EnvironmentFile= parser agree (systemd ends a single-quoted value at the
// first quote, so sh's '\'' idiom would differ).
[[nodiscard]] std::string env_assignment(std::string_view key, std::string_view value);

} // namespace aptship::stage
