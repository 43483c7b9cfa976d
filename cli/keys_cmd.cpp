#include <cstdio>

#include "audit/keys.hpp"
#include "cli/commands.hpp"
#include "cli/options.hpp"

namespace sovgw::cli {
namespace {

constexpr const char* keys_usage =
    "usage: sovgw keys init DIR [--name LOG_NAME]\n"
    "  creates signing.key/.pub (checkpoint signing), kek.key (payload key wrapping) and\n"
    "  auditor.key/.pub (payload decryption by auditors) in DIR; prints the public keys\n"
    "\n"
    "exit codes: 0 ok; 2 bad usage; 3 I/O or environment (DIR holds keys already, cannot write)\n";

int cmd_init(const options& o) {
  const std::string& dir = o.positional()[0];
  const std::string name = o.get("name").value_or(audit::default_log_name);
  if (!crypto::valid_note_key_name(name)) {
    throw usage_error("invalid log name '" + name + "': no spaces or '+' allowed", false);
  }
  const auto keys = audit::init_keys(dir, name);
  std::printf("created keys in %s (secret key files are mode 0600)\n", dir.c_str());
  std::printf("checkpoint verifier key (%s/signing.pub, give to auditors):\n  %s\n", dir.c_str(),
              keys.signing_vkey.c_str());
  std::printf("auditor public key (%s/auditor.pub):\n  %s\n", dir.c_str(), keys.auditor_public.c_str());
  std::printf("move %s/auditor.key to the auditors; the gateway needs signing.key, kek.key and auditor.pub\n",
              dir.c_str());
  return exit_ok;
}

const subcommand keys_subcommands[] = {
    {"init",
     keys_usage,
     {.valued = {"name"}, .min_positional = 1, .max_positional = 1, .arguments = "exactly one directory"},
     cmd_init},
};

}  // namespace

int run_keys(args_t args) { return run_family("keys", keys_usage, args, keys_subcommands); }

}  // namespace sovgw::cli
