#include "builder/stage/names.hpp"

namespace aptship::stage {

std::string user_of(const AppSpec& spec) {
  return spec.user.empty() ? spec.app : spec.user;
}

std::string target_name(const AppSpec& spec) {
  return spec.app + ".target";
}

std::string service_name(const AppSpec& spec, const ProcessType& process) {
  return spec.app + "-" + process.name + ".service";
}

std::vector<std::string> unit_names(const AppSpec& spec) {
  std::vector<std::string> out{target_name(spec)};
  for (const ProcessType& process : spec.processes) {
    out.push_back(service_name(spec, process));
  }
  return out;
}

unsigned port_offset(const AppSpec& spec, const ProcessType& process) {
  if (process.name == "web") {
    return 0;
  }
  unsigned offset = 0;
  for (const ProcessType& other : spec.processes) {
    if (other.name != "web") {
      ++offset;
    }
    if (other.name == process.name) {
      break;
    }
  }
  return offset;
}

std::string app_dir(const AppSpec& spec) {
  return "/opt/" + spec.app;
}
std::string etc_dir(const AppSpec& spec) {
  return "/etc/" + spec.app;
}
std::string env_path(const AppSpec& spec) {
  return etc_dir(spec) + "/env";
}
std::string conf_dir(const AppSpec& spec) {
  return etc_dir(spec) + "/conf.d";
}
std::string state_dir(const AppSpec& spec) {
  return "/var/lib/" + spec.app;
}
std::string log_dir(const AppSpec& spec) {
  return "/var/log/" + spec.app;
}
std::string command_path(const AppSpec& spec) {
  return "/usr/bin/" + spec.app;
}

} // namespace aptship::stage
