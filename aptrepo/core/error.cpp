#include "aptrepo/core/error.hpp"

#include <cstring>

namespace aptship {

tl::unexpected<Error> errno_error(std::string_view what, int err) {
  return tl::unexpected<Error>(Error(fmt::format("{}: {}", what, std::strerror(err))));
}

} // namespace aptship
