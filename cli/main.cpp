#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.hpp"

namespace {

constexpr const char* usage = R"(usage: sovgw <command> [args]

commands:
  serve [--config FILE]             run the gateway (embedded default config without --config)
  config check FILE                 validate a config file (certificates and keys loaded) and exit
  config default                    print the embedded default config
  policy check|test|explain|diff    lint, prove, test and explain policy files
  geo lookup IP... [--mmdb FILE]    geolocate addresses (Debian's tor-geoipdb, or a MaxMind DB file)
  audit query|verify|prove|verify-proof|report|show|shred|retain|append|checkpoint
                                    query, verify, prove and report on the audit log
  keys init DIR                     create the gateway's keys, and the auditor's key apart from them
  keys http-new|http-public FILE    create the request-signing key; print its JWK and PEM
  keys hmac-new FILE                create a cluster's hmac-sha256 signing secret
  keys pseudonym-new FILE           create the secret tenant pseudonyms are keyed from
  receipt verify HEAD_FILE          check a response's signed receipt offline
  tenants check FILE | tenants key create|list|revoke
                                    validate a tenants file; create, list and revoke API keys
  version                           print the version

Run `sovgw <command> --help` for a command's options.

exit codes (every command): 0 ok; 1 a verification, check, test or diff failed; 2 bad usage,
or (serve) a config, policy or tenants file with errors, an unsafe mode among them; 3 I/O or
environment (a file missing or unreadable, the audit log busy, a key file's unsafe permissions)
)";

}  // namespace

namespace {
int run(std::vector<std::string_view> args);
}  // namespace

// A command's output that could not be written (a full disk under `> proof.json`, a closed pipe)
// is a failure, exit 3, whatever the command made of it.
int main(int argc, char** argv) {
  const int code = run(std::vector<std::string_view>(argv + 1, argv + argc));
  if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) {
    std::fprintf(stderr, "sovgw: cannot write to standard output (%s): the output is incomplete\n",
                 std::strerror(errno));
    return code == sovgw::cli::exit_ok ? sovgw::cli::exit_environment : code;
  }
  return code;
}

namespace {
int run(std::vector<std::string_view> args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(usage, args.empty() ? stderr : stdout);
    return args.empty() ? sovgw::cli::exit_usage : sovgw::cli::exit_ok;
  }
  const std::string_view command = args[0];
  const sovgw::cli::args_t rest(args.data() + 1, args.size() - 1);
  try {
    if (command == "serve") {
      return sovgw::cli::run_serve(rest);
    }
    if (command == "config") {
      return sovgw::cli::run_config(rest);
    }
    if (command == "policy") {
      return sovgw::cli::run_policy(rest);
    }
    if (command == "geo") {
      return sovgw::cli::run_geo(rest);
    }
    if (command == "audit") {
      return sovgw::cli::run_audit(rest);
    }
    if (command == "keys") {
      return sovgw::cli::run_keys(rest);
    }
    if (command == "receipt") {
      return sovgw::cli::run_receipt(rest);
    }
    if (command == "tenants") {
      return sovgw::cli::run_tenants(rest);
    }
    if (command == "version" || command == "--version") {
      if (!rest.empty() && rest[0] != "--help" && rest[0] != "-h") {
        std::fprintf(stderr, "sovgw version: unexpected argument '%.*s'\nusage: sovgw version\n",
                     static_cast<int>(rest[0].size()), rest[0].data());
        return sovgw::cli::exit_usage;
      }
      if (!rest.empty()) {
        std::puts("usage: sovgw version\n  prints the version (sovgw " SOVGW_VERSION ")");
        return sovgw::cli::exit_ok;
      }
      std::puts("sovgw " SOVGW_VERSION);
      return sovgw::cli::exit_ok;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sovgw %s: %s\n", std::string(command).c_str(), e.what());
    return sovgw::cli::exit_environment;
  }
  std::fprintf(stderr, "sovgw: unknown command '%.*s'\n\n%s", static_cast<int>(command.size()),
               command.data(), usage);
  return sovgw::cli::exit_usage;
}
}  // namespace
