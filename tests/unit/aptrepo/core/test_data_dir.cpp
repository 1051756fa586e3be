#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <string>

#include "aptrepo/core/data_dir.hpp"

using aptship::DataDir;

namespace {

// Sets or unsets $APTSHIP_DATA for one scope.
class ScopedDataEnv {
public:
  explicit ScopedDataEnv(const char* value) {
    if (const char* old = std::getenv("APTSHIP_DATA"); old != nullptr) {
      m_saved = old;
    }
    if (value != nullptr) {
      ::setenv("APTSHIP_DATA", value, 1);
    } else {
      ::unsetenv("APTSHIP_DATA");
    }
  }
  ScopedDataEnv(const ScopedDataEnv&) = delete;
  ScopedDataEnv& operator=(const ScopedDataEnv&) = delete;
  ~ScopedDataEnv() {
    if (m_saved) {
      ::setenv("APTSHIP_DATA", m_saved->c_str(), 1);
    } else {
      ::unsetenv("APTSHIP_DATA");
    }
  }

private:
  std::optional<std::string> m_saved;
};

} // namespace

TEST_CASE("the --data option wins over the environment", "[data_dir]") {
  ScopedDataEnv env("/srv/from-env");
  CHECK(DataDir::resolve("/srv/option").root() == "/srv/option");
}

TEST_CASE("$APTSHIP_DATA is used when no option is given", "[data_dir]") {
  ScopedDataEnv env("/srv/from-env");
  CHECK(DataDir::resolve("").root() == "/srv/from-env");
}

TEST_CASE("the default is ./aptship-data", "[data_dir]") {
  {
    ScopedDataEnv env(nullptr);
    CHECK(DataDir::resolve("").root() == "aptship-data");
  }
  {
    // An empty variable counts as unset.
    ScopedDataEnv env("");
    CHECK(DataDir::resolve("").root() == "aptship-data");
  }
}

TEST_CASE("paths inside the data dir", "[data_dir]") {
  DataDir dir("/var/lib/aptship");
  CHECK(dir.root() == "/var/lib/aptship");
  CHECK(dir.config() == "/var/lib/aptship/aptship.toml");
  CHECK(dir.gnupg() == "/var/lib/aptship/gnupg");
}
