#include <cstdio>
#include <span>
#include <stdexcept>

#include "audit/keys.hpp"
#include "cli/audit_output.hpp"
#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/jwk.hpp"
#include "crypto/key_file.hpp"
#include "crypto/secret_bytes.hpp"
#include "crypto/signature_profile.hpp"

namespace sovgw::cli {
namespace {

constexpr const char* keys_usage =
    "usage: sovgw keys init DIR [--name LOG_NAME] [--auditor-dir ADIR]\n"
    "  creates the gateway's keys in DIR: signing.key/.pub (checkpoint signing), kek.key\n"
    "  (client-address pseudonyms) and auditor.pub (data keys are sealed to it); and the\n"
    "  auditor's secret key auditor.key (with a copy of signing.pub) in ADIR, by default\n"
    "  DIR-auditor: it opens every stored payload and belongs off the gateway host\n"
    "usage: sovgw keys http-new FILE\n"
    "  creates the gateway's Ed25519 key for signing forwarded requests and receipts (RFC 9421;\n"
    "  config `signing.key`) in FILE, mode 0600, and prints its verification key\n"
    "usage: sovgw keys hmac-new FILE\n"
    "  creates a 32-byte hmac-sha256 secret that the gateway and one cluster share instead of the\n"
    "  Ed25519 key (config `signing.cluster_hmac_keys`; the stand-in's --hmac-key) in FILE, mode 0600\n"
    "usage: sovgw keys pseudonym-new FILE\n"
    "  creates a 32-byte secret that the tenant pseudonym (Sovereign-Tenant) and the Idempotency-Key\n"
    "  scope are keyed from (config `signing.pseudonym_key`), in FILE, mode 0600: without it they are\n"
    "  keyed from signing.key and change when it is rotated\n"
    "usage: sovgw keys http-public FILE [--format jwk|pem]\n"
    "  prints the verification key of the signing key FILE, for clusters and clients: a JWK\n"
    "  (RFC 8037, `kid` = the keyid in signatures) and a PEM SubjectPublicKeyInfo (both by default;\n"
    "  `receipt verify --key` reads either or both);\n"
    "  the admin listener serves the same JWK at /.well-known/sovgw-keys.json\n"
    "\n"
    "exit codes: 0 ok; 2 bad usage; 3 I/O or environment (keys exist already, cannot write)\n";

int cmd_init(const options& o) {
  const std::string& dir = o.positional()[0];
  const std::string name = o.get("name").value_or(audit::default_log_name);
  if (!crypto::valid_note_key_name(name)) {
    throw usage_error("invalid log name '" + name + "': no spaces or '+' allowed", false);
  }
  const auto keys = [&] {
    try {
      return audit::init_keys(dir, name, o.get("auditor-dir").value_or(""));
    } catch (const std::invalid_argument& e) {
      throw usage_error(e.what(), false);  // --auditor-dir inside DIR: exit 2
    }
  }();
  std::printf("created the gateway's keys in %s (secret key files are mode 0600)\n", dir.c_str());
  std::printf("checkpoint verifier key (%s/signing.pub, give to auditors):\n  %s\n", dir.c_str(),
              keys.signing_vkey.c_str());
  // What `audit verify` and the report print: auditors compare it with the key published.
  if (const auto verifier = crypto::note_verifier::parse(keys.signing_vkey)) {
    std::printf("  SHA-256 fingerprint %s (publish it: audit verify and report print it)\n",
                key_fingerprint(*verifier).c_str());
  }
  std::printf("auditor public key (%s/auditor.pub):\n  %s\n", dir.c_str(), keys.auditor_public.c_str());
  std::printf(
      "the auditor's secret key is in %s/auditor.key: it opens every stored payload and belongs OFF the "
      "gateway host.\nMove %s to the auditors; the gateway needs only %s (signing.key, kek.key, "
      "auditor.pub).\n",
      keys.auditor_dir.c_str(), keys.auditor_dir.c_str(), dir.c_str());
  return exit_ok;
}

void print_public(const crypto::ed25519_public_key& pk, std::string_view format) {
  const std::string kid = crypto::ed25519_jwk_thumbprint(pk);
  if (format != "pem") {
    std::printf("%s\n", crypto::ed25519_public_jwk(pk, kid).c_str());
  }
  if (format != "jwk") {
    std::fputs(crypto::ed25519_public_pem(pk).c_str(), stdout);
  }
}

int cmd_http_new(const options& o) {
  const std::string& path = o.positional()[0];
  const auto pair = crypto::ed25519_generate_key_pair();
  crypto::write_secret_key_file(path, crypto::httpsig::http_signing_key_kind, pair.secret_key);
  std::fprintf(stderr, "created %s (mode 0600; keyid %s); its verification key:\n", path.c_str(),
               crypto::ed25519_jwk_thumbprint(pair.public_key).c_str());
  print_public(pair.public_key, "both");
  return exit_ok;
}

int cmd_hmac_new(const options& o) {
  const std::string& path = o.positional()[0];
  crypto::secret_bytes secret(32);
  crypto::random_bytes(std::span(secret.data(), 32));
  crypto::write_secret_key_file(path, crypto::httpsig::hmac_key_kind, secret);
  std::fprintf(
      stderr,
      "created %s (mode 0600): give the same file to the cluster's verifier, over a channel you trust\n",
      path.c_str());
  return exit_ok;
}

int cmd_pseudonym_new(const options& o) {
  const std::string& path = o.positional()[0];
  crypto::secret_bytes secret(32);
  crypto::random_bytes(std::span(secret.data(), 32));
  crypto::write_secret_key_file(path, crypto::httpsig::pseudonym_key_kind, secret);
  std::fprintf(
      stderr,
      "created %s (mode 0600): keep it across signing key rotations; a new one gives every tenant a new "
      "pseudonym\n",
      path.c_str());
  return exit_ok;
}

int cmd_http_public(const options& o) {
  const std::string format = o.get("format").value_or("both");
  if (format != "jwk" && format != "pem" && format != "both") {
    throw usage_error("--format must be jwk, pem or both (the default), not '" + format + "'", false);
  }
  const crypto::secret_bytes secret =
      crypto::read_secret_key_file(o.positional()[0], crypto::httpsig::http_signing_key_kind);
  print_public(crypto::ed25519_public_from_secret(secret), format);
  return exit_ok;
}

const subcommand keys_subcommands[] = {
    {"http-new",
     keys_usage,
     {.min_positional = 1, .max_positional = 1, .arguments = "exactly one key FILE"},
     cmd_http_new},
    {"hmac-new",
     keys_usage,
     {.min_positional = 1, .max_positional = 1, .arguments = "exactly one key FILE"},
     cmd_hmac_new},
    {"pseudonym-new",
     keys_usage,
     {.min_positional = 1, .max_positional = 1, .arguments = "exactly one key FILE"},
     cmd_pseudonym_new},
    {"http-public",
     keys_usage,
     {.valued = {"format"}, .min_positional = 1, .max_positional = 1, .arguments = "exactly one key FILE"},
     cmd_http_public},
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
