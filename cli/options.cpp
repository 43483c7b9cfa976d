#include "cli/options.hpp"

#include <fmt/format.h>

#include <cstring>

#include "cli/printable.hpp"
#include "common/regular_file.hpp"

namespace sovgw::cli {
namespace {

bool is_help(std::string_view a) { return a == "--help" || a == "-h" || a == "help"; }

}  // namespace

int exit_code_for(error_code code) {
  switch (code) {
    case error_code::ok:
      return exit_ok;
    case error_code::verification_failed:
    case error_code::corruption:
      return exit_failed;
    case error_code::invalid_argument:
    case error_code::not_found:
      return exit_usage;
    case error_code::io:
    case error_code::busy:
    case error_code::shut_down:
      return exit_environment;
  }
  return exit_environment;
}

options::options(args_t args, const option_spec& spec) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a.size() < 2 || a.front() != '-') {
      positional_.emplace_back(a);
      continue;
    }
    std::string_view name = a;
    std::optional<std::string> value;
    if (const auto eq = name.find('='); eq != std::string_view::npos && name.starts_with("--")) {
      value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    const std::string_view bare = name.starts_with("--") ? name.substr(2) : std::string_view();
    if (spec.flags.count(bare) != 0) {
      if (value) {
        throw usage_error(fmt::format("option '{}' takes no value", name));
      }
      flags_.emplace(bare);
      continue;
    }
    if (spec.valued.count(bare) == 0) {
      throw usage_error(fmt::format("unknown option '{}'", name));
    }
    if (!value) {
      // The next argument is the value, unless it is one of this command's options: `--since
      // --limit 10` lacks the time, it does not mean the time "--limit". (A value that does begin
      // with "--" can be given as --name=value.)
      const auto is_option = [&](std::string_view next) {
        const std::string_view n = next.substr(0, next.find('='));
        return n.starts_with("--") &&
               (spec.flags.count(n.substr(2)) != 0 || spec.valued.count(n.substr(2)) != 0);
      };
      if (i + 1 >= args.size() || is_option(args[i + 1])) {
        throw usage_error(fmt::format("option '{}' needs a value", name));
      }
      value = std::string(args[++i]);
    }
    if (value->empty()) {  // `--clusters=` or `--db ""`: no file, no time, no id is named by nothing
      throw usage_error(fmt::format("option '{}' needs a value, not an empty one", name));
    }
    if (!named_.emplace(std::string(bare), std::move(*value)).second) {
      throw usage_error(fmt::format("option '{}' given twice", name));
    }
  }
  const std::size_t n = positional_.size();
  if (n < spec.min_positional || n > spec.max_positional) {
    if (spec.max_positional == 0) {
      throw usage_error(fmt::format("unexpected argument '{}'", positional_[0]));
    }
    throw usage_error(fmt::format("expects {} ({} argument{} given)", spec.arguments, n, n == 1 ? "" : "s"));
  }
}

std::optional<std::string> options::get(std::string_view name) const {
  const auto it = named_.find(name);
  return it == named_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

const std::string& options::need(std::string_view name) const {
  const auto it = named_.find(name);
  if (it == named_.end()) {
    throw usage_error(fmt::format("missing --{}", name));
  }
  return it->second;
}

int run_family(std::string_view family, std::string_view family_usage, args_t args,
               std::span<const subcommand> subcommands) {
  if (args.empty() || is_help(args[0])) {
    std::fputs(std::string(family_usage).c_str(), args.empty() ? stderr : stdout);
    return args.empty() ? exit_usage : exit_ok;
  }
  const subcommand* cmd = nullptr;
  for (const auto& c : subcommands) {
    if (c.name == args[0]) {
      cmd = &c;
    }
  }
  if (cmd == nullptr) {
    fmt::print(stderr, "sovgw {}: unknown subcommand '{}'\n\n{}", family, args[0], family_usage);
    return exit_usage;
  }
  return run_command(fmt::format("{} {}", family, cmd->name), *cmd, args.subspan(1));
}

int run_command(std::string_view name, const subcommand& cmd, args_t args) {
  for (const auto a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(std::string(cmd.usage).c_str(), stdout);
      return exit_ok;
    }
  }
  try {
    return cmd.run(options(args, cmd.spec));
  } catch (const usage_error& e) {
    fmt::print(stderr, "sovgw {}: {}\n", name, printable(e.what(), true));
    if (e.show_usage()) {
      fmt::print(stderr, "\n{}", cmd.usage);
    }
    return exit_usage;
  } catch (const command_error& e) {
    fmt::print(stderr, "sovgw {}: {}\n", name, printable(e.what(), true));
    return e.exit_code();
  } catch (const std::exception& e) {
    // The libraries throw only where they load their environment: key files, geo data.
    fmt::print(stderr, "sovgw {}: {}\n", name, printable(e.what(), true));
    return exit_environment;
  }
}

std::optional<std::string> read_input_file(const std::string& path, std::size_t max_bytes) {
  auto text = read_regular_file(path, max_bytes, "file");
  if (text.is_ok()) {
    return std::move(text).value();
  }
  const file_error& e = text.error();
  switch (e.kind) {
    case file_problem::too_large:
      return std::nullopt;
    case file_problem::cannot_open:
      throw command_error(exit_environment,
                          fmt::format("cannot open {}: {}", path, std::strerror(e.system_error)));
    default:
      throw command_error(exit_environment, fmt::format("cannot read {}: {}", path, e.message()));
  }
}

}  // namespace sovgw::cli
