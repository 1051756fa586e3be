#include <catch2/catch.hpp>

#include "builder/stage/names.hpp"
#include "stage_testutil.hpp"

using aptship::stage::AppSpec;
using aptship::test::sample_spec;

TEST_CASE("names: units, user and paths derive from the app name") {
  AppSpec spec = sample_spec();
  CHECK(aptship::stage::user_of(spec) == "hello");
  spec.user = "hello_svc";
  CHECK(aptship::stage::user_of(spec) == "hello_svc");
  CHECK(aptship::stage::target_name(spec) == "hello.target");
  CHECK(aptship::stage::service_name(spec, spec.processes[1]) == "hello-worker.service");
  CHECK(aptship::stage::unit_names(spec) ==
        std::vector<std::string>{"hello.target", "hello-web.service", "hello-worker.service"});
  CHECK(aptship::stage::app_dir(spec) == "/opt/hello");
  CHECK(aptship::stage::env_path(spec) == "/etc/hello/env");
  CHECK(aptship::stage::conf_dir(spec) == "/etc/hello/conf.d");
  CHECK(aptship::stage::state_dir(spec) == "/var/lib/hello");
  CHECK(aptship::stage::log_dir(spec) == "/var/log/hello");
  CHECK(aptship::stage::command_path(spec) == "/usr/bin/hello");
}

TEST_CASE("names: web keeps PORT, the other process types count up from it") {
  AppSpec spec = sample_spec();
  spec.processes = {{"worker", "a"}, {"web", "b"}, {"clock", "c"}};
  CHECK(aptship::stage::port_offset(spec, spec.processes[0]) == 1);
  CHECK(aptship::stage::port_offset(spec, spec.processes[1]) == 0);
  CHECK(aptship::stage::port_offset(spec, spec.processes[2]) == 2);
}
