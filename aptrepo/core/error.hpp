#pragma once

// The error type every fallible library function returns through
// tl::expected, and the TRY macros that pass it up.

#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <tl/expected.hpp>

namespace aptship {

// A one-sentence description of what went wrong. Each layer prefixes its
// own context: "signing dists/stable/Release: no secret key 0xABCD".
class Error {
public:
  explicit Error(std::string message) : m_message(std::move(message)) {}

  // The full message, outermost context first.
  [[nodiscard]] const std::string& message() const { return m_message; }

  // This error with CONTEXT prepended as "CONTEXT: message".
  [[nodiscard]] Error context(std::string_view ctx) const {
    return Error(fmt::format("{}: {}", ctx, m_message));
  }

private:
  std::string m_message;
};

template <typename T> using Expected = tl::expected<T, Error>;

// Builds the unexpected value of an Expected from a fmt format string.
template <typename... Args>
[[nodiscard]] tl::unexpected<Error> make_error(fmt::format_string<Args...> format, Args&&... args) {
  return tl::unexpected<Error>(Error(fmt::format(format, std::forward<Args>(args)...)));
}

// The unexpected value for a failed system call: "WHAT: strerror(errno)".
[[nodiscard]] tl::unexpected<Error> errno_error(std::string_view what, int err);

} // namespace aptship

#define APTSHIP_CONCAT_(a, b) a##b
#define APTSHIP_CONCAT(a, b) APTSHIP_CONCAT_(a, b)

// Returns the error of EXPR (an Expected) from the enclosing function.
#define TRY(expr_)                                                                                 \
  do {                                                                                             \
    auto&& aptship_try_result_ = (expr_);                                                          \
    if (!aptship_try_result_) {                                                                    \
      return tl::unexpected<::aptship::Error>(std::move(aptship_try_result_).error());             \
    }                                                                                              \
  } while (false)

// Like TRY, adding CTX (a string) as context to the error.
#define TRY_CTX(expr_, ctx_)                                                                       \
  do {                                                                                             \
    auto&& aptship_try_result_ = (expr_);                                                          \
    if (!aptship_try_result_) {                                                                    \
      return tl::unexpected<::aptship::Error>(aptship_try_result_.error().context(ctx_));          \
    }                                                                                              \
  } while (false)

// Declares-or-assigns VAR_ from the value of EXPR, or returns its error:
// TRY_ASSIGN(auto fd, Fd::open(path)).
#define TRY_ASSIGN(var_, expr_)                                                                    \
  auto APTSHIP_CONCAT(aptship_try_, __LINE__) = (expr_);                                           \
  if (!APTSHIP_CONCAT(aptship_try_, __LINE__)) {                                                   \
    return tl::unexpected<::aptship::Error>(                                                       \
        std::move(APTSHIP_CONCAT(aptship_try_, __LINE__)).error());                                \
  }                                                                                                \
  var_ = std::move(*APTSHIP_CONCAT(aptship_try_, __LINE__))
