#include "aptrepo/fleet/fleet_file.hpp"

#include <charconv>
#include <set>

#include <toml++/toml.h>

#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/text.hpp"

namespace aptship::fleet {

namespace {

using std::chrono::milliseconds;

// Every problem of the file, each with its key path, reported together.
class Problems {
public:
  void add(std::string_view path, std::string_view problem) {
    m_list.push_back(fmt::format("{}: {}", path, problem));
  }
  [[nodiscard]] bool empty() const { return m_list.empty(); }
  [[nodiscard]] std::string joined(std::string_view source) const {
    std::string out = fmt::format("{}: ", source);
    for (size_t i = 0; i < m_list.size(); ++i) {
      out += i > 0 ? "; " : "";
      out += m_list[i];
    }
    return out;
  }

private:
  std::vector<std::string> m_list;
};

std::string join_path(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}

// Reports each key of TABLE not in KNOWN.
void check_keys(const toml::table& table, std::string_view path,
                std::initializer_list<std::string_view> known, Problems& problems) {
  for (const auto& [key, node] : table) {
    bool found = false;
    for (std::string_view k : known) {
      found = found || key.str() == k;
    }
    if (!found) {
      problems.add(join_path(path, printable(key.str())), "unknown key");
    }
  }
}

std::optional<std::string> get_string(const toml::node& node, const std::string& path,
                                      Problems& problems) {
  const auto* value = node.as_string();
  if (value == nullptr) {
    problems.add(path, "expected a string");
    return std::nullopt;
  }
  const std::string& text = value->get();
  if (text.empty()) {
    problems.add(path, "must not be empty");
    return std::nullopt;
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      problems.add(path, "must be one line without control characters");
      return std::nullopt;
    }
  }
  return text;
}

std::optional<int> get_int(const toml::node& node, const std::string& path, Problems& problems,
                           int min, int max) {
  const auto* value = node.as_integer();
  if (value == nullptr) {
    problems.add(path, "expected an integer");
    return std::nullopt;
  }
  int64_t n = value->get();
  if (n < min || n > max) {
    problems.add(path, fmt::format("must be {}..{}", min, max));
    return std::nullopt;
  }
  return static_cast<int>(n);
}

std::optional<std::vector<std::string>>
get_string_list(const toml::node& node, const std::string& path, Problems& problems) {
  const auto* array = node.as_array();
  if (array == nullptr) {
    problems.add(path, "expected an array of strings");
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < array->size(); ++i) {
    auto item = get_string((*array)[i], fmt::format("{}[{}]", path, i), problems);
    ok = ok && item.has_value();
    if (item) {
      out.push_back(std::move(*item));
    }
  }
  if (ok && out.empty()) {
    problems.add(path, "must not be empty");
    return std::nullopt;
  }
  return ok ? std::optional(std::move(out)) : std::nullopt;
}

std::optional<milliseconds> get_duration(const toml::node& node, const std::string& path,
                                         Problems& problems) {
  auto text = get_string(node, path, problems);
  if (!text) {
    return std::nullopt;
  }
  auto duration = parse_duration(*text);
  if (!duration) {
    problems.add(path, duration.error().message());
    return std::nullopt;
  }
  return *duration;
}

const toml::table* get_table(const toml::node& node, const std::string& path, Problems& problems) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    problems.add(path, "expected a table");
  }
  return table;
}

void parse_transport(const toml::table& table, FleetFile& fleet, Problems& problems) {
  check_keys(table, "transport", {"kind", "command", "target"}, problems);
  if (const auto* node = table.get("kind")) {
    if (auto kind = get_string(*node, "transport.kind", problems)) {
      if (*kind == "ssh") {
        fleet.transport.kind = TransportKind::ssh;
      } else if (*kind == "exec") {
        fleet.transport.kind = TransportKind::exec;
      } else {
        problems.add("transport.kind", "must be \"ssh\" or \"exec\"");
      }
    }
  }
  if (const auto* node = table.get("command")) {
    if (auto command = get_string_list(*node, "transport.command", problems)) {
      fleet.transport.command = std::move(*command);
    }
  }
  if (const auto* node = table.get("target")) {
    if (auto target = get_string(*node, "transport.target", problems)) {
      fleet.transport.target = std::move(*target);
    }
  }
  if (fleet.transport.kind == TransportKind::exec && fleet.transport.command.empty() &&
      table.get("command") == nullptr) {
    problems.add("transport.command", "required when kind is \"exec\"");
  }
}

void parse_health(const toml::table& table, FleetFile& fleet, Problems& problems) {
  check_keys(table, "health",
             {"url", "expect_status", "expect_body", "rise", "interval", "timeout"}, problems);
  HealthSpec& health = fleet.health;
  if (const auto* node = table.get("url")) {
    if (auto url = get_string(*node, "health.url", problems)) {
      if (!url->starts_with("http://")) {
        problems.add("health.url", "must start with http://");
      }
      health.url = std::move(*url);
    }
  } else {
    problems.add("health.url", "required");
  }
  if (const auto* node = table.get("expect_status")) {
    health.expect_status =
        get_int(*node, "health.expect_status", problems, 100, 599).value_or(health.expect_status);
  }
  if (const auto* node = table.get("expect_body")) {
    if (const auto* value = node->as_string()) {
      health.expect_body = value->get();
    } else {
      problems.add("health.expect_body", "expected a string");
    }
  }
  if (const auto* node = table.get("rise")) {
    health.rise = get_int(*node, "health.rise", problems, 1, 1000).value_or(health.rise);
  }
  if (const auto* node = table.get("interval")) {
    health.interval = get_duration(*node, "health.interval", problems).value_or(health.interval);
  }
  if (const auto* node = table.get("timeout")) {
    health.timeout = get_duration(*node, "health.timeout", problems).value_or(health.timeout);
    if (health.timeout.count() == 0) {
      problems.add("health.timeout", "must be more than 0");
    }
  }
}

void parse_batches(const toml::node& node, RolloutSpec& rollout, Problems& problems) {
  const auto* array = node.as_array();
  if (array == nullptr || array->empty()) {
    problems.add("rollout.batches", "expected a non-empty array of host counts and \"N%\"");
    return;
  }
  std::vector<BatchSize> batches;
  for (size_t i = 0; i < array->size(); ++i) {
    std::string path = fmt::format("rollout.batches[{}]", i);
    const toml::node& item = (*array)[i];
    if (item.is_integer()) {
      if (auto n = get_int(item, path, problems, 1, 1'000'000)) {
        batches.push_back({*n, BatchSize::Unit::hosts});
      }
      continue;
    }
    const auto* text = item.as_string();
    std::string_view s = text != nullptr ? std::string_view(text->get()) : std::string_view();
    int percent = 0;
    bool ok = s.size() >= 2 && s.back() == '%';
    if (ok) {
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size() - 1, percent);
      ok = ec == std::errc() && ptr == s.data() + s.size() - 1 && percent >= 1 && percent <= 100;
    }
    if (!ok) {
      problems.add(path, "expected a host count or a percentage \"1%\"..\"100%\"");
      continue;
    }
    batches.push_back({percent, BatchSize::Unit::percent});
  }
  rollout.batches = std::move(batches);
}

void parse_rollout(const toml::table& table, FleetFile& fleet, Problems& problems) {
  check_keys(table, "rollout",
             {"batches", "max_failed_hosts", "drain_timeout", "min_healthy",
              "shutdown_sessions_on_timeout", "drain"},
             problems);
  RolloutSpec& rollout = fleet.rollout;
  if (const auto* node = table.get("batches")) {
    parse_batches(*node, rollout, problems);
  }
  if (const auto* node = table.get("max_failed_hosts")) {
    rollout.max_failed_hosts = get_int(*node, "rollout.max_failed_hosts", problems, 0, 1'000'000)
                                   .value_or(rollout.max_failed_hosts);
  }
  if (const auto* node = table.get("drain_timeout")) {
    rollout.drain_timeout =
        get_duration(*node, "rollout.drain_timeout", problems).value_or(rollout.drain_timeout);
  }
  if (const auto* node = table.get("min_healthy")) {
    rollout.min_healthy =
        get_int(*node, "rollout.min_healthy", problems, 0, 1'000'000).value_or(rollout.min_healthy);
  }
  if (const auto* node = table.get("shutdown_sessions_on_timeout")) {
    if (const auto* value = node->as_boolean()) {
      rollout.shutdown_sessions_on_timeout = value->get();
    } else {
      problems.add("rollout.shutdown_sessions_on_timeout", "expected true or false");
    }
  }
  if (const auto* node = table.get("drain")) {
    if (const auto* value = node->as_boolean()) {
      rollout.drain = value->get();
    } else {
      problems.add("rollout.drain", "expected true or false");
    }
  }
}

bool uses_root(const TransportSpec& transport) {
  for (const auto& word : transport.command) {
    if (word.find("{root}") != std::string::npos) {
      return transport.kind == TransportKind::exec;
    }
  }
  return false;
}

// A load balancer's `host`: "ADDRESS" (its name too), or a table with
// name, address and root as a [[hosts]] entry has.
std::optional<HostSpec> parse_load_balancer_host(const toml::node& node, const std::string& path,
                                                 const TransportSpec& transport,
                                                 Problems& problems) {
  HostSpec host;
  if (node.is_string()) {
    host.address = get_string(node, path, problems).value_or("");
    host.name = host.address;
    if (host.address.empty()) {
      problems.add(path, "must not be empty");
    } else if (uses_root(transport)) {
      problems.add(path, "transport.command uses {root}: give a table {name, address, root}");
    }
  } else if (const auto* table = node.as_table()) {
    check_keys(*table, path, {"name", "address", "root"}, problems);
    if (const auto* address = table->get("address")) {
      host.address = get_string(*address, path + ".address", problems).value_or("");
    }
    if (const auto* name = table->get("name")) {
      host.name = get_string(*name, path + ".name", problems).value_or("");
    }
    if (const auto* root = table->get("root")) {
      host.root = get_string(*root, path + ".root", problems).value_or("");
    } else if (uses_root(transport)) {
      problems.add(path + ".root", "required by transport.command's {root}");
    }
    if (host.name.empty()) {
      host.name = host.address;
    }
    if (host.name.empty()) {
      problems.add(path, "needs a name or an address");
    }
  } else {
    problems.add(path, "expected \"ADDRESS\" or a table {name, address, root}");
    return std::nullopt;
  }
  return host;
}

void parse_load_balancers(const toml::node& node, FleetFile& fleet, Problems& problems) {
  const auto* array = node.as_array();
  if (array == nullptr) {
    problems.add("load_balancers", "expected an array of tables ([[load_balancers]])");
    return;
  }
  for (size_t i = 0; i < array->size(); ++i) {
    std::string path = fmt::format("load_balancers[{}]", i);
    const auto* table = get_table((*array)[i], path, problems);
    if (table == nullptr) {
      continue;
    }
    check_keys(*table, path, {"kind", "socket", "backend", "host"}, problems);
    LoadBalancerSpec lb;
    if (const auto* kind = table->get("kind")) {
      if (auto text = get_string(*kind, path + ".kind", problems); text && *text != "haproxy") {
        problems.add(path + ".kind", "must be \"haproxy\"");
      }
    }
    if (const auto* socket = table->get("socket")) {
      lb.socket = get_string(*socket, path + ".socket", problems).value_or("");
    } else {
      problems.add(path + ".socket", "required");
    }
    if (const auto* backend = table->get("backend")) {
      lb.backend = get_string(*backend, path + ".backend", problems).value_or("");
    } else {
      problems.add(path + ".backend", "required");
    }
    if (const auto* host = table->get("host")) {
      lb.host = parse_load_balancer_host(*host, path + ".host", fleet.transport, problems);
      // socat reads ',' '!' and ':' after the address keyword as its own syntax.
      std::string_view socket = lb.socket;
      if (socket.starts_with("tcp://")) {
        socket.remove_prefix(6);
      }
      if (socket.find_first_of(",!\"'\\ ") != std::string_view::npos) {
        problems.add(path + ".socket",
                     "a socket reached over the transport cannot contain , ! quotes, "
                     "backslashes or spaces (socat's address syntax)");
      }
    }
    fleet.load_balancers.push_back(std::move(lb));
  }
}

void parse_hosts(const toml::node& node, FleetFile& fleet, Problems& problems) {
  const auto* array = node.as_array();
  if (array == nullptr || array->empty()) {
    problems.add("hosts", "expected a non-empty array of tables ([[hosts]])");
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < array->size(); ++i) {
    std::string path = fmt::format("hosts[{}]", i);
    const auto* table = get_table((*array)[i], path, problems);
    if (table == nullptr) {
      continue;
    }
    check_keys(*table, path, {"name", "address", "port", "root"}, problems);
    HostSpec host;
    if (const auto* name = table->get("name")) {
      host.name = get_string(*name, path + ".name", problems).value_or("");
      if (!host.name.empty() && !names.insert(host.name).second) {
        problems.add(path + ".name", fmt::format("\"{}\" is used by another host", host.name));
      }
    } else {
      problems.add(path + ".name", "required");
    }
    if (const auto* address = table->get("address")) {
      host.address = get_string(*address, path + ".address", problems).value_or("");
    } else {
      problems.add(path + ".address", "required");
    }
    if (const auto* port = table->get("port")) {
      host.port = get_int(*port, path + ".port", problems, 1, 65535).value_or(0);
    } else {
      problems.add(path + ".port", "required");
    }
    if (const auto* root = table->get("root")) {
      host.root = get_string(*root, path + ".root", problems).value_or("");
    }
    if (uses_root(fleet.transport) && table->get("root") == nullptr) {
      problems.add(path + ".root", "required by transport.command's {root}");
    }
    fleet.hosts.push_back(std::move(host));
  }
}

} // namespace

Expected<milliseconds> parse_duration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  std::string_view unit = text.substr(digits);
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, value);
  if (digits == 0 || ec != std::errc() || value > 100'000'000) {
    return make_error("'{}' is not a duration such as 500ms, 30s or 2m", printable(text));
  }
  if (unit == "ms") {
    return milliseconds(value);
  }
  if (unit == "s") {
    return milliseconds(value * 1000);
  }
  if (unit == "m") {
    return milliseconds(value * 60'000);
  }
  return make_error("'{}' is not a duration such as 500ms, 30s or 2m", printable(text));
}

std::string format_duration(milliseconds duration) {
  int64_t ms = duration.count();
  if (ms % 60'000 == 0 && ms >= 60'000) {
    return fmt::format("{}m", ms / 60'000);
  }
  if (ms % 1000 == 0) {
    return fmt::format("{}s", ms / 1000);
  }
  if (ms < 1000) {
    return fmt::format("{}ms", ms);
  }
  return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0);
}

std::string substitute(std::string_view text, const HostSpec& host) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    bool replaced = false;
    if (text[i] == '{') {
      auto try_key = [&](std::string_view key, const std::string& value) {
        if (!replaced && text.substr(i).starts_with(key)) {
          out += value;
          i += key.size();
          replaced = true;
        }
      };
      try_key("{name}", host.name);
      try_key("{address}", host.address);
      try_key("{root}", host.root);
      try_key("{port}", std::to_string(host.port));
    }
    if (!replaced) {
      out += text[i];
      ++i;
    }
  }
  return out;
}

Expected<FleetFile> parse_fleet_file(std::string_view text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return make_error("{}:{}:{}: {}", source, e.source().begin.line, e.source().begin.column,
                      e.description());
  }
  Problems problems;
  FleetFile fleet;
  check_keys(
      root, "",
      {"app", "units", "transport", "restart", "health", "rollout", "load_balancers", "hosts"},
      problems);
  if (const auto* node = root.get("app")) {
    fleet.app = get_string(*node, "app", problems).value_or("");
  } else {
    problems.add("app", "required");
  }
  if (const auto* node = root.get("units")) {
    fleet.units = get_string_list(*node, "units", problems).value_or(std::vector<std::string>{});
  }
  if (fleet.units.empty() && !fleet.app.empty()) {
    fleet.units = {fleet.app + ".target"};
  }
  if (const auto* node = root.get("transport")) {
    if (const auto* table = get_table(*node, "transport", problems)) {
      parse_transport(*table, fleet, problems);
    }
  }
  if (const auto* node = root.get("restart")) {
    if (const auto* table = get_table(*node, "restart", problems)) {
      check_keys(*table, "restart", {"command"}, problems);
      if (const auto* command = table->get("command")) {
        fleet.restart_command = get_string_list(*command, "restart.command", problems)
                                    .value_or(std::vector<std::string>{});
      } else {
        problems.add("restart.command", "required in [restart]");
      }
    }
  }
  if (const auto* node = root.get("health")) {
    if (const auto* table = get_table(*node, "health", problems)) {
      parse_health(*table, fleet, problems);
    }
  } else {
    problems.add("health", "required: the gate a host passes before it takes traffic again");
  }
  if (const auto* node = root.get("rollout")) {
    if (const auto* table = get_table(*node, "rollout", problems)) {
      parse_rollout(*table, fleet, problems);
    }
  }
  if (const auto* node = root.get("load_balancers")) {
    parse_load_balancers(*node, fleet, problems);
  }
  if (const auto* node = root.get("hosts")) {
    parse_hosts(*node, fleet, problems);
  } else {
    problems.add("hosts", "required");
  }
  if (!problems.empty()) {
    return tl::unexpected<Error>(Error(problems.joined(source)));
  }
  return fleet;
}

Expected<FleetFile> load_fleet_file(const std::filesystem::path& path) {
  TRY_ASSIGN(std::string text, read_file(path));
  return parse_fleet_file(text, path.string());
}

} // namespace aptship::fleet
