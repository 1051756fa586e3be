#pragma once

// The names and paths a staged application uses, derived from its spec in
// one place so that the units, the wrapper and the maintainer scripts agree.

#include <cstdint>
#include <string>
#include <vector>

#include "builder/stage/stage.hpp"

namespace aptship::stage {

// The system account (and its group) the processes run as: spec.user, or
// the app name when that is empty.
[[nodiscard]] std::string user_of(const AppSpec& spec);
// "APP.target": groups every process of the app.
[[nodiscard]] std::string target_name(const AppSpec& spec);
// "APP-PROCESS.service".
[[nodiscard]] std::string service_name(const AppSpec& spec, const ProcessType& process);
// Every unit of the app: the target first, then the services in Procfile order.
[[nodiscard]] std::vector<std::string> unit_names(const AppSpec& spec);

// The offset added to the configured PORT for PROCESS: 0 for "web", N for
// the N-th other process type in Procfile order, so that processes that
// listen never collide.
[[nodiscard]] unsigned port_offset(const AppSpec& spec, const ProcessType& process);

// Where things live on the installed system.
[[nodiscard]] std::string app_dir(const AppSpec& spec);      // /opt/APP
[[nodiscard]] std::string etc_dir(const AppSpec& spec);      // /etc/APP
[[nodiscard]] std::string env_path(const AppSpec& spec);     // /etc/APP/env
[[nodiscard]] std::string conf_dir(const AppSpec& spec);     // /etc/APP/conf.d
[[nodiscard]] std::string state_dir(const AppSpec& spec);    // /var/lib/APP
[[nodiscard]] std::string log_dir(const AppSpec& spec);      // /var/log/APP
[[nodiscard]] std::string command_path(const AppSpec& spec); // /usr/bin/APP

} // namespace aptship::stage
