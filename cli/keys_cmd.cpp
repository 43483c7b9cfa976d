#include <cstdio>

#include "audit/keys.hpp"
#include "cli/commands.hpp"
#include "cli/options.hpp"

namespace sovgw::cli {
namespace {

constexpr const char* keys_usage =
    "usage: sovgw keys init DIR [--name LOG_NAME] [--auditor-dir ADIR]\n"
    "  creates the gateway's keys in DIR: signing.key/.pub (checkpoint signing), kek.key\n"
    "  (client-address pseudonyms) and auditor.pub (data keys are sealed to it); and the\n"
    "  auditor's secret key auditor.key (with a copy of signing.pub) in ADIR, by default\n"
    "  DIR-auditor: it opens every stored payload and belongs off the gateway host\n"
    "\n"
    "exit codes: 0 ok; 2 bad usage; 3 I/O or environment (keys exist already, cannot write)\n";

int cmd_init(const options& o) {
  const std::string& dir = o.positional()[0];
  const std::string name = o.get("name").value_or(audit::default_log_name);
  if (!crypto::valid_note_key_name(name)) {
    throw usage_error("invalid log name '" + name + "': no spaces or '+' allowed", false);
  }
  const auto keys = audit::init_keys(dir, name, o.get("auditor-dir").value_or(""));
  std::printf("created the gateway's keys in %s (secret key files are mode 0600)\n", dir.c_str());
  std::printf("checkpoint verifier key (%s/signing.pub, give to auditors):\n  %s\n", dir.c_str(),
              keys.signing_vkey.c_str());
  std::printf("auditor public key (%s/auditor.pub):\n  %s\n", dir.c_str(), keys.auditor_public.c_str());
  std::printf(
      "the auditor's secret key is in %s/auditor.key: it opens every stored payload and belongs OFF the "
      "gateway host.\nMove %s to the auditors; the gateway needs only %s (signing.key, kek.key, "
      "auditor.pub).\n",
      keys.auditor_dir.c_str(), keys.auditor_dir.c_str(), dir.c_str());
  return exit_ok;
}

const subcommand keys_subcommands[] = {
    {"init",
     keys_usage,
     {.valued = {"name", "auditor-dir"},
      .min_positional = 1,
      .max_positional = 1,
      .arguments = "exactly one directory"},
     cmd_init},
};

}  // namespace

int run_keys(args_t args) { return run_family("keys", keys_usage, args, keys_subcommands); }

}  // namespace sovgw::cli
