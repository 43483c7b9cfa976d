#pragma once

#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

// The one command-line parser and error scheme of every `sovgw` subcommand.
//
// Exit codes (the same for every command; the usage texts, README and docs list them):
//   0  ok
//   1  what the command judges failed: a verification, check, test or diff (an audit log or proof
//      that does not verify, a policy with errors or a violated invariant, changed decisions), or
//      the log answered no (a tenant with no data key, a payload that cannot be read)
//   2  usage: the command line is wrong (unknown option, missing or malformed argument, a file
//      given as an argument that is not what the option asks for)
//   3  I/O or environment: a file or directory missing or unreadable, an unsafe file permission,
//      the database missing, busy (held by another writer) or failing, a key or geo database
//      that cannot be loaded
namespace sovgw::cli {

using args_t = std::span<const std::string_view>;

inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_environment = 3;

// The command line is wrong. `show_usage`: print the command's usage after the message (for
// parser errors; a malformed value says enough on its own).
class usage_error : public std::runtime_error {
 public:
  explicit usage_error(const std::string& message, bool show_usage = true)
      : std::runtime_error(message), show_usage_(show_usage) {}
  [[nodiscard]] bool show_usage() const { return show_usage_; }

 private:
  bool show_usage_;
};

// A command that cannot go on, with its exit code (exit_failed or exit_environment).
class command_error : public std::runtime_error {
 public:
  command_error(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  [[nodiscard]] int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// The exit code for a library error: verification_failed and corruption 1; invalid_argument and
// not_found 2 (the arguments name something wrong or absent); io, busy and shut_down 3.
[[nodiscard]] int exit_code_for(error_code code);

// What a subcommand accepts: options that take a value (`--name value` or `--name=value`),
// flags (`--name`), and how many positional arguments.
struct option_spec {
  std::set<std::string, std::less<>> valued{};
  std::set<std::string, std::less<>> flags{};
  std::size_t min_positional = 0;
  std::size_t max_positional = 0;
  std::string_view arguments{};  // the positional arguments for messages, e.g. "POLICY and TESTS files"
};

// A parsed command line. Throws usage_error (unknown option, missing value, an option given twice,
// a flag given a value, too few or too many positional arguments).
class options {
 public:
  options(args_t args, const option_spec& spec);

  [[nodiscard]] bool has(std::string_view name) const { return named_.find(name) != named_.end(); }
  [[nodiscard]] bool flag(std::string_view name) const { return flags_.count(name) != 0; }
  [[nodiscard]] std::optional<std::string> get(std::string_view name) const;
  // The value of a required option; usage_error "missing --name" without it.
  [[nodiscard]] const std::string& need(std::string_view name) const;
  [[nodiscard]] const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::string, std::less<>> named_;
  std::set<std::string, std::less<>> flags_;
};

// One subcommand of a family (`sovgw audit verify`): its name, usage text, accepted options and
// the function that runs it and returns its exit code (0 or 1; errors are thrown).
struct subcommand {
  std::string_view name;
  std::string_view usage;
  option_spec spec;
  int (*run)(const options& o);
};

// Runs `sovgw <family> <subcommand> ...`: help (`--help`, `-h`: usage on stdout, exit 0), unknown
// subcommands and the errors thrown by a subcommand: usage_error (message, then the subcommand's
// usage: exit 2), command_error (its code) and any other exception from the libraries' start-up
// paths (exit 3). Messages go to stderr as `sovgw <family> <subcommand>: <message>`.
[[nodiscard]] int run_family(std::string_view family, std::string_view family_usage, args_t args,
                             std::span<const subcommand> subcommands);

// Runs one command (`name` is how messages call it, e.g. "audit verify" or "serve") on its
// arguments, with the same help and error handling as run_family.
[[nodiscard]] int run_command(std::string_view name, const subcommand& cmd, args_t args);

// Reads a whole input file of at most `max_bytes`. command_error exit_environment when it cannot be
// opened or read; nullopt when it is larger than that (what that means is the caller's to say).
[[nodiscard]] std::optional<std::string> read_input_file(const std::string& path, std::size_t max_bytes);

}  // namespace sovgw::cli
