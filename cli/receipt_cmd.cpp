#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.hpp"
#include "audit/proof_file.hpp"
#include "audit/query.hpp"
#include "audit/store.hpp"
#include "cli/audit_output.hpp"
#include "cli/audit_support.hpp"
#include "cli/commands.hpp"
#include "cli/printable.hpp"
#include "common/ascii.hpp"
#include "crypto/content_digest.hpp"
#include "crypto/jwk.hpp"
#include "crypto/key_file.hpp"
#include "crypto/signature_profile.hpp"
#include "crypto/signed_note.hpp"
#include "crypto/structured_field.hpp"

namespace sovgw::cli {
namespace {

namespace hs = crypto::httpsig;

constexpr const char* receipt_usage = R"(usage:
  sovgw receipt verify HEAD_FILE --key PUBLIC_KEY [--method METHOD --url URL]
                       [--content-digest VALUE | --body-file FILE] [--db DIR]
      checks offline the receipt the gateway signed on a response (docs/auditing.md): HEAD_FILE is
      the response head as saved (`curl -D head.txt`, over HTTP/1.1, 2 or 3; interim 1xx heads are
      skipped), PUBLIC_KEY
      the gateway's verification key (PEM, JWK or both, as `sovgw keys http-public` prints them,
      or the JWK Set the admin listener serves at /.well-known/sovgw-keys.json: the receipt's
      keyid picks the key),
      METHOD and URL the request it answers exactly as sent (`https://host:port/path?query`: host
      and port as in the Host field). A request sent with a Content-Digest: give the same value,
      or the body sent; a receipt of a request sent without one covers no body, and giving
      --body-file or --content-digest for it fails. Without --method and --url: a receipt the
      gateway signed on an answer to no request line (400 malformed request line, 408 before the
      head, 414, 431 by bytes), which is bound to no request. Prints the receipt's fields.
      --db DIR: the gateway's audit log: a receipt that verifies is also looked up there by its
      request id, and the record must say what the receipt says (method, path, status, decision,
      policy version, cluster and its country); a record missing or saying otherwise means the
      log was rewritten or the record removed since the gateway answered (sovgw audit verify
      --checkpoint says whether the log itself is the one you verified before). A receipt
      created outside the time the record says its request was answered (or later than now,
      even without --db) was not signed by the gateway as it answered: it fails, and says so.
      A record that agrees but says the answer did not complete (a 200 whose body the cluster
      cut short: its error_kind) is named too: the receipt leaves in the head, before the body.

exit codes: 0 the receipt verifies (and, with --db, the log's record agrees); 1 it does not, or
the log has no record of it or contradicts it (the reason is printed); 2 bad usage (a head that
is not an HTTP response, a bad URL or key); 3 a file cannot be read, or no log at --db
)";

struct saved_head {
  int status = 0;
  std::vector<std::string> lines;  // "name: value", kept for the views
  std::vector<hs::field_line> fields;
};

// The status code of a status line as curl -D saves it: "HTTP/1.1 200 OK", "HTTP/1.1 200",
// "HTTP/2 200 ", "HTTP/3 200"; nullopt for any other line.
std::optional<int> status_of(std::string_view line) {
  if (!line.starts_with("HTTP/")) {
    return std::nullopt;
  }
  const std::size_t sp = line.find(' ');
  const std::string_view version = line.substr(5, sp - 5);
  const bool version_ok = version == "1.0" || version == "1.1" || version == "2" || version == "3";
  const std::string_view code = sp == std::string_view::npos ? "" : line.substr(sp + 1, 3);
  if (!version_ok || code.size() != 3 || code.find_first_not_of("0123456789") != std::string_view::npos ||
      (line.size() > sp + 4 && line[sp + 4] != ' ')) {
    return std::nullopt;
  }
  return (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
}

// The last final response head in a `curl -D` file (CRLF or LF line ends; HTTP/1.x, HTTP/2 or
// HTTP/3, whose field names are lower case).
saved_head parse_head(const std::string& path, const std::string& text) {
  std::vector<std::string> block;
  std::vector<std::string> last;
  std::optional<int> last_status;
  std::vector<int> finals;
  const auto end_block = [&] {
    const std::optional<int> status = block.empty() ? std::nullopt : status_of(block[0]);
    if (status && *status >= 200) {
      last = block;
      last_status = status;
      finals.push_back(*status);
    }
    block.clear();
  };
  std::size_t at = 0;
  while (at <= text.size()) {
    std::size_t eol = text.find('\n', at);
    if (eol == std::string::npos) {
      eol = text.size();
    }
    std::string line = text.substr(at, eol - at);
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    at = eol + 1;
    if (!line.empty()) {
      block.push_back(std::move(line));
    } else {
      end_block();
    }
  }
  end_block();
  if (last.empty()) {
    throw usage_error(fmt::format("{}: no final HTTP response head in the file", path), false);
  }
  if (finals.size() > 1) {
    // Two responses' heads in one file (two saved heads concatenated, or curl -L following a
    // redirect): checking only the last would silently pass over the others (probe round 40).
    throw usage_error(
        fmt::format("{}: the file holds {} final HTTP response heads (statuses {}): a receipt is "
                    "checked one response at a time: save each response's head to its own file",
                    path, finals.size(), fmt::join(finals, ", ")),
        false);
  }
  saved_head h;
  h.status = *last_status;
  h.lines.assign(last.begin() + 1, last.end());
  for (std::size_t i = 0; i < h.lines.size(); ++i) {
    const std::string_view l = h.lines[i];
    const std::size_t colon = l.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      throw usage_error(fmt::format("{}:{}: not a header field line: '{}'", path, i + 2, l), false);
    }
    std::string_view value = l.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
      value.remove_suffix(1);
    }
    h.fields.push_back({l.substr(0, colon), value});
  }
  return h;
}

// True when the receipt's signature covers the Content-Digest of the request it answers: the
// gateway covers it only when the client sent one (crypto/signature_profile.hpp).
bool covers_request_digest(const hs::signature_params& params) {
  const hs::component digest = hs::component::field("content-digest").req();
  return std::any_of(params.covered.begin(), params.covered.end(),
                     [&](const hs::component& c) { return c.same_as(digest); });
}

// The receipt's field `name` as the gateway wrote it (a String's or a Token's text; any other
// value as it is), or "" when the head has none.
std::string receipt_field(const saved_head& head, std::string_view name) {
  for (const hs::field_line& f : head.fields) {
    if (!ascii_iequals(f.name, name)) {
      continue;
    }
    const auto item = crypto::sf::parse_item(f.value);
    if (item.ok()) {
      if (const auto* text = std::get_if<std::string>(&item->value)) {
        return *text;
      }
      if (const auto* token = std::get_if<crypto::sf::token>(&item->value)) {
        return token->value;
      }
    }
    return std::string(f.value);
  }
  return {};
}

// --db: the log's record of the request a verified receipt answers must say what the receipt says.
// A receipt is the gateway's signed word, given in the response head: a record saying otherwise was
// rewritten since. A record missing was removed, or the response never completed: the record is made
// durable before the response's last byte, after the head and its receipt went out.
// When the log's newest record ended before the receipt was signed, a missing record may be one the
// log you were given is too old to hold (a backup, a restored copy): said, not only "removed".
std::string older_copy_note(const audit::store& s, std::optional<std::int64_t> created) {
  auto count = s.leaf_count();
  if (!created || *created <= 0 || !count.is_ok()) {
    return {};
  }
  const auto created_us = static_cast<std::uint64_t>(*created) * 1'000'000;
  std::uint64_t newest = 0;
  if (count.value() > 0) {
    auto last = audit::read_record(s, count.value() - 1);
    if (!last.is_ok()) {
      return {};
    }
    newest = last->timestamp_us + last->latency_us;
  }
  if (newest >= created_us) {
    return {};
  }
  return fmt::format(
      "  the log you gave ends before this receipt was signed: its newest record ({}) ended {}, the receipt "
      "was created {}: an older copy or a backup of the log holds no record of it, whatever happened "
      "since; check it against the live log or a copy taken after {}\n",
      count.value() == 0 ? std::string("none: the log is empty")
                         : fmt::format("record {}", count.value() - 1),
      count.value() == 0 ? std::string("never") : format_time(newest), format_time(created_us),
      format_time(created_us));
}

// A genuine receipt is signed while its request is answered, by the clock that times the record:
// from the request's arrival (the record's time) to its end (time + latency), whole seconds either
// way. Empty when `created` falls there; else why not (probe round 42: a receipt signed with a
// retired key a month later was taken for proof that the record had been rewritten).
std::string created_outside_answer(const audit::record& r, std::optional<std::int64_t> created) {
  if (!created) {
    return {};
  }
  constexpr std::int64_t slack_s = 2;  // rounding to whole seconds, and the record made after the head
  const auto from_s = static_cast<std::int64_t>(r.timestamp_us / 1'000'000);
  const auto to_s = static_cast<std::int64_t>((r.timestamp_us + r.latency_us + 999'999) / 1'000'000);
  // A record made from an in-flight note (the gateway stopped while it answered) knows when the
  // request came, not when its answer ended (probe round 43: a head sent 5 s after the note).
  const bool end_known = r.error_kind != audit::gateway_stopped_error_kind &&
                         r.note.find("recorded at the gateway's next start") == std::string::npos;
  if (*created >= from_s - slack_s && (!end_known || *created <= to_s + slack_s)) {
    return {};
  }
  if (!end_known) {
    return fmt::format(
        "the receipt was created {} ({}), before the request came ({}, as its record says)", *created,
        format_time(static_cast<std::uint64_t>(std::max<std::int64_t>(*created, 0)) * 1'000'000),
        format_time(r.timestamp_us));
  }
  return fmt::format(
      "the receipt was created {} ({}), the record says the request was answered from {} to {}", *created,
      format_time(static_cast<std::uint64_t>(std::max<std::int64_t>(*created, 0)) * 1'000'000),
      format_time(r.timestamp_us), format_time(r.timestamp_us + r.latency_us));
}

int check_against_log(const options& o, const saved_head& head, const hs::signature_params& params,
                      std::string_view method, std::string_view path) {
  const std::optional<std::int64_t>& created = params.created;
  const std::string id = receipt_field(head, "Sovereign-Request-Id");
  if (id.empty()) {
    fmt::print("the receipt carries no Sovereign-Request-Id: it cannot be tied to the log at {}\n",
               o.need("db"));
    return exit_failed;
  }
  const auto s = open_reader(o);
  auto found = audit::find_request(*s, id);
  if (!found.is_ok()) {
    if (found.error().code() != error_code::verification_failed) {
      throw_status(found.error());
    }
    fmt::print("the log cannot be checked against the receipt: {}\n", printable(found.error().message()));
    return exit_failed;
  }
  if (found->deleted) {
    // The index entry shows the record was written: the response's fate does not matter.
    fmt::print(
        "the log holds NO record with request id '{}'\n  ({})\n"
        "  the record was removed from the log: it was written (the request id index still names "
        "record {}), then deleted\n",
        printable(id), printable(found->absent), *found->deleted);
    return exit_failed;
  }
  if (!found->seq) {
    // Forwarded by a gateway that stopped (or is still answering): its note in DB.in-flight says
    // so; not a record removed (probe round 42: "an older copy" was said of the live log).
    const pending_notes pending = pending_notes_of(*s, o);
    if (const audit::pending_request* r = pending.find(id)) {
      fmt::print("the log cannot agree yet: {}\n", printable(pending_request_text(pending, *r)));
      return exit_failed;
    }
    fmt::print(
        "the log holds NO record with request id '{}' (or {} is not the log of the gateway that signed the "
        "receipt)\n  ({})\n"
        "  the gateway signed this receipt into the response head, before its record is made durable (before "
        "the response's last byte): either the record was removed from the log, or the response was never "
        "complete (the gateway stopped, a crash or kill, or could not write the record, before its last "
        "byte)\n"
        "  (an answer the gateway gave itself, such as a denial or a 503, goes out complete even while its "
        "audit log cannot write: its record is held and written when the log resumes; a gateway stopped "
        "before then, with DB.in-flight unwritable too, lost it, which its /readyz said at the time)\n"
        "  a client that received the whole response (every Content-Length byte, or a stream's terminating "
        "chunk) holds proof its record was made durable: then it was removed, or the log you gave is a "
        "copy older than the receipt\n{}",
        printable(id), o.need("db"), printable(found->absent), older_copy_note(*s, created));
    return exit_failed;
  }
  const std::uint64_t seq = *found->seq;
  print_lookup_notes("sovgw receipt: note", *found, id);
  auto r = audit::read_record(*s, seq);
  if (!r.is_ok()) {
    throw_status(r.error());
  }
  struct compared {
    std::string_view what;
    std::string receipt;
    std::string record;
  };
  if (const std::string outside = created_outside_answer(*r, created); !outside.empty()) {
    fmt::print(
        "the receipt was NOT signed while request '{}' was answered (record {}): {}\n"
        "  the gateway signs a receipt into the response head while it answers: this one was signed at "
        "another time, by whoever held the key it names (keyid {}) — a leaked or retired key, or a receipt "
        "made by hand. It proves nothing about this request or the log (sovgw audit verify says whether the "
        "log, record times included, is the one its signed checkpoints hold)\n",
        printable(id), seq, outside, printable(params.keyid.value_or("")));
    return exit_failed;
  }
  const bool stopped_record = r->error_kind == audit::gateway_stopped_error_kind && r->status == 0;
  // The record keeps the path without the query, cut at the record limits (8 KiB).
  const bool path_agrees =
      path.empty() || r->path.empty() || r->path.front() != '/' ||
      (path.starts_with(r->path) && (path.size() == r->path.size() || r->path.size() >= 8192));
  const compared fields[] = {
      {"method", std::string(method.empty() ? r->method : method), r->method},
      {"path", std::string(path_agrees ? r->path : path), r->path},
      // A record made from the note taken when the request was forwarded (the gateway stopped while
      // it answered) holds status 0 and, without a policy decision, `none`: what the answer was is not
      // known to it (probe round 43).
      {"status", std::to_string(stopped_record ? 0 : head.status), std::to_string(r->status)},
      {"decision",
       stopped_record && r->decision == audit::decision_none ? r->decision
                                                             : receipt_field(head, "Sovereign-Decision"),
       r->decision},
      {"policy version", receipt_field(head, "Sovereign-Policy-Version"), r->policy_version},
      {"cluster", receipt_field(head, "Sovereign-Cluster"), r->cluster},
      {"cluster country", receipt_field(head, "Sovereign-Cluster-Country"), r->cluster_country},
  };
  std::string differ;
  for (const compared& f : fields) {
    if (f.receipt != f.record) {
      differ += fmt::format("  {}: the receipt says {}, the record {}\n", f.what,
                            f.receipt.empty() ? "(none)" : printable(f.receipt),
                            f.record.empty() ? "(none)" : printable(f.record));
    }
  }
  if (!differ.empty()) {
    fmt::print(
        "the log CONTRADICTS the receipt: record {} (request id '{}') says otherwise:\n{}"
        "  the gateway answered one thing and logged another: the record was rewritten (sovgw audit verify "
        "--checkpoint with a checkpoint you kept says whether it was after you saved that)\n",
        seq, printable(id), differ);
    return exit_failed;
  }
  // The fields agree; the record must also be the one the log's signed tree holds at its place,
  // as `audit prove` requires: a record moved, or rewritten with its fields intact, is not.
  auto proof = audit::make_inclusion_proof(*s, seq);
  if (!proof.is_ok() && proof.error().code() != error_code::not_found) {
    fmt::print(
        "the log cannot be tied to the receipt: the record with request id '{}' agrees with it, but {}\n",
        printable(id), printable(proof.error().message()));
    return exit_failed;
  }
  // Not signed yet: the record must still be the one the stored tree holds at its place.
  std::optional<unsigned_record> not_signed;
  if (!proof.is_ok()) {
    not_signed = describe_unsigned_record(*s, seq);
    if (not_signed->altered) {
      fmt::print(
          "the log cannot be tied to the receipt: the record with request id '{}' agrees with it, but {}\n",
          printable(id), printable(not_signed->text));
      return exit_failed;
    }
  }
  fmt::print("the log agrees: record {} carries request id '{}' with status {}, decision {}, policy {}, {}\n",
             seq, printable(id), r->status, printable(r->decision),
             r->policy_version.empty() ? "(none)" : printable(r->policy_version),
             r->cluster.empty()
                 ? std::string("not forwarded")
                 : fmt::format("cluster {} in {}", printable(r->cluster), printable(r->cluster_country)));
  // The receipt is signed with the head, before the body: a 200 whose body the cluster cut short
  // (or the client left, or the record could not be made durable before its last byte) carries a
  // receipt like a complete one. The record says what became of it (probe round 39).
  if (stopped_record) {
    fmt::print(
        "  the answer did not complete: the gateway stopped while it answered (error_kind gateway_stopped); "
        "the record was made at its next start from the note taken when the request was forwarded, so it "
        "holds status 0, not the {} this receipt's head carried\n",
        head.status);
  } else if (!r->error_kind.empty() && r->status < 400) {
    fmt::print(
        "  the answer did not complete: the record's error_kind is {} (its head, and this receipt, "
        "went out before its body ended)\n",
        printable(r->error_kind));
  }
  if (not_signed) {  // not covered by a signed checkpoint yet
    fmt::print("  ({}: `sovgw audit prove` cannot prove it yet)\n", printable(not_signed->text));
  }
  return exit_ok;
}

// The request a receipt answers, from --method and --url, and the Content-Digests it may have
// carried (--content-digest, or each form of --body-file's): usage_error on a bad one.
void parse_request(const options& o, hs::message_view& request, std::string& authority, std::string& target,
                   std::vector<std::string>& digests) {
  const std::string url = o.need("url");
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    throw usage_error(fmt::format("--url '{}' is not an absolute URL (https://host:port/path)", url), false);
  }
  // The scheme is not signed (@authority, @path and @query are): http:// is read as https://.
  if (const std::string_view scheme = std::string_view(url).substr(0, scheme_end);
      !ascii_iequals(scheme, "https") && !ascii_iequals(scheme, "http")) {
    throw usage_error(
        fmt::format("--url '{}' is not an https:// URL, as the request was sent (https://host:port/path)",
                    url),
        false);
  }
  if (url.find('#') != std::string::npos) {
    throw usage_error(
        fmt::format("--url '{}' has a fragment (#...), which no request sends: leave it out", url), false);
  }
  // The host ends at the path or, with none (https://host:port?x=1, which curl sends as /?x=1), at
  // the query.
  const std::size_t path_at = url.find_first_of("/?", scheme_end + 3);
  authority = url.substr(scheme_end + 3, path_at - scheme_end - 3);
  target = path_at == std::string::npos ? "/"
           : url[path_at] == '?'        ? "/" + url.substr(path_at)
                                        : url.substr(path_at);
  if (authority.empty()) {
    throw usage_error(fmt::format("--url '{}' has no host", url), false);
  }
  // The Content-Digest the request carried, as the receipt covers it: given, or made from the body
  // in each form a client writes (sha-256, sha-512, both): the first that verifies is the one.
  if (o.has("content-digest") && o.has("body-file")) {
    throw usage_error("give --content-digest or --body-file, not both", false);
  }
  if (const auto value = o.get("content-digest")) {
    const crypto::digest_verdict form = crypto::verify_content_digest(*value, std::string_view());
    if (form == crypto::digest_verdict::malformed || form == crypto::digest_verdict::no_known_algorithm) {
      throw usage_error(
          fmt::format("--content-digest '{}' is not a Content-Digest field value with a sha-256 or "
                      "sha-512 member (sha-256=:<base64>:, as the request sent it)",
                      *value),
          false);
    }
    digests.push_back(*value);
  } else if (const auto body = o.get("body-file")) {
    const std::string content = crypto::read_small_file(*body, "body file");
    const std::string sha256 = crypto::content_digest(content);
    const std::string sha512 = crypto::content_digest(content, crypto::digest_algorithm::sha512);
    digests = {sha256,
               sha512,
               sha256 + ", " + sha512,
               sha512 + ", " + sha256,
               sha256 + "," + sha512,
               sha512 + "," + sha256};
  }
  request.method = o.need("method");
  // HTTP methods are case-sensitive (RFC 9110, 9.1): "post" signs differently from POST.
  if (std::any_of(request.method.begin(), request.method.end(),
                  [](char c) { return c >= 'a' && c <= 'z'; })) {
    std::string upper(request.method);
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; });
    throw usage_error(fmt::format("--method '{}': methods are case-sensitive and clients send them in upper "
                                  "case; did you mean {}?",
                                  request.method, upper),
                      false);
  }
  request.authority = authority;
  request.set_target(target);
}

int cmd_verify(const options& o) {
  const std::string& head_path = o.positional()[0];
  const saved_head head = parse_head(head_path, crypto::read_small_file(head_path, "response head"));

  const std::string key_path = o.need("key");
  const std::string key_text = crypto::read_small_file(key_path);
  const crypto::public_key_set_result keys = crypto::parse_ed25519_public_keys(key_text);
  if (!keys.ok() && crypto::note_verifier::parse(key_text.substr(0, key_text.find_last_not_of("\r\n") + 1))) {
    throw usage_error(fmt::format("{}: this is the audit log's checkpoint key (a signed-note verifier key, "
                                  "for sovgw audit verify); receipts are signed with the gateway's HTTP "
                                  "signing key: `sovgw keys http-public SIGNING_KEY` prints it, and the "
                                  "admin listener serves it at /.well-known/sovgw-keys.json",
                                  key_path),
                      false);
  }
  if (!keys.ok()) {
    const bool about_the_set = keys.error == crypto::public_key_error::duplicate_kid ||
                               keys.error == crypto::public_key_error::bad_key_set ||
                               keys.error == crypto::public_key_error::no_ed25519_key;
    throw usage_error(fmt::format("{}: {}{}: {}", key_path,
                                  about_the_set ? "not a usable JWK Set" : "not an Ed25519 public key",
                                  keys.member ? fmt::format(" (JWK Set member {})", *keys.member) : "",
                                  crypto::describe(keys.error)),
                      false);
  }
  std::vector<hs::verification_key> verifiers;
  for (const crypto::public_key_result& k : keys.keys) {
    // The gateway's keyid is the key's thumbprint: a kid that says otherwise would be printed as
    // the signer's keyid for a key that is not that one.
    const std::string thumbprint = crypto::ed25519_jwk_thumbprint(k.key);
    if (k.kid != thumbprint) {
      throw usage_error(
          fmt::format("{}: the JWK's kid '{}' is not the key's RFC 7638 thumbprint {} (the keyid "
                      "the gateway signs with)",
                      key_path, k.kid, thumbprint),
          false);
    }
    verifiers.push_back(hs::verification_key::ed25519(k.kid, k.key));
  }

  // Without --method and --url: a receipt bound to no request (an answer to no request line).
  const bool bound = o.has("method") || o.has("url");
  if (!bound && (o.has("content-digest") || o.has("body-file"))) {
    throw usage_error("--content-digest and --body-file need the request: give --method and --url too",
                      false);
  }
  hs::message_view request;
  std::vector<std::string> digests;
  std::string authority;
  std::string target;
  if (bound) {
    parse_request(o, request, authority, target, digests);
  }
  if (digests.empty()) {
    digests.emplace_back();
  }
  std::string digest = digests.front();
  hs::message_view response;
  response.status = head.status;
  response.fields = head.fields;

  hs::receipt_verifier policy;
  std::optional<std::string> asked;  // the keyid the receipt names
  policy.resolve_key = [&](std::string_view id) -> const hs::verification_key* {
    asked = std::string(id);
    const auto found = std::find_if(verifiers.begin(), verifiers.end(),
                                    [id](const hs::verification_key& v) { return v.keyid() == id; });
    return found == verifiers.end() ? nullptr : &*found;
  };
  std::vector<hs::field_line> request_fields;
  hs::verify_result r;
  for (const std::string& candidate : digests) {
    request_fields.clear();
    if (!candidate.empty()) {
      request_fields.push_back({"Content-Digest", candidate});
    }
    request.fields = request_fields;
    r = hs::verify_receipt(response, request, policy);
    digest = candidate;
    if (r.failure != hs::verify_failure::bad_signature) {
      break;
    }
  }
  const bool covers_body = covers_request_digest(r.params);
  if (r.failure == hs::verify_failure::unknown_key && asked) {
    std::vector<std::string_view> known;
    for (const hs::verification_key& v : verifiers) {
      known.push_back(v.keyid());
    }
    fmt::print("receipt does NOT verify: it was signed with keyid {}, which {} does not hold (it holds {})\n",
               *asked, key_path, fmt::join(known, ", "));
    return exit_failed;
  }
  if (!bound && !r.ok() &&
      (r.failure == hs::verify_failure::component_unavailable ||
       r.failure == hs::verify_failure::missing_required_component)) {
    fmt::print(
        "receipt does NOT verify without the request: it is bound to one; give the request it answers "
        "(--method METHOD --url URL)\n");
    return exit_failed;
  }
  if (r.failure == hs::verify_failure::component_unavailable && covers_body && digest.empty()) {
    fmt::print(
        "receipt does NOT verify: it covers the request body (the Content-Digest the request carried): give "
        "the body sent (--body-file FILE) or its Content-Digest (--content-digest VALUE)\n");
    return exit_failed;
  }
  if (!r.ok()) {
    fmt::print("receipt does NOT verify: {}{}{}\n", hs::to_string(r.failure), r.detail.empty() ? "" : ": ",
               r.detail);
    if (r.failure == hs::verify_failure::bad_signature) {
      fmt::print(
          "  the signature does not match this head and request: the method, URL (host, port, path, "
          "query){} may differ from the request it answers, the head may have been altered, or {} may "
          "not hold the key that signed it\n",
          covers_body ? " or body (Content-Digest)" : "", key_path);
      if (covers_body && o.has("body-file")) {
        fmt::print(
            "  (--body-file tries the body's sha-256 and sha-512 digests, alone and together; a request that "
            "sent its Content-Digest in another form needs --content-digest with the value it sent)\n");
      }
    }
    return exit_failed;
  }
  if (!digest.empty() && !covers_body) {
    // A valid signature over the rest proves nothing about a body it does not cover.
    fmt::print(
        "receipt does NOT cover the request body: the request it answers carried no Content-Digest, so "
        "the receipt is not bound to any body and {} cannot be checked against it (send Content-Digest "
        "with a request to tie its receipt to the prompt)\n",
        o.has("body-file") ? "--body-file" : "--content-digest");
    return exit_failed;
  }
  // Signed while the response was given: never later than now (five minutes for clocks apart: the
  // auditor's machine is not the gateway's).
  const std::int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  if (r.params.created && *r.params.created > now_s + 300) {
    fmt::print(
        "receipt does NOT verify: it was created {} ({}), later than now ({}): the gateway signs a receipt "
        "while it answers, so this one was made by whoever held the key (keyid {}) with a false time\n",
        *r.params.created, format_time(static_cast<std::uint64_t>(*r.params.created) * 1'000'000),
        format_time(static_cast<std::uint64_t>(now_s) * 1'000'000), r.params.keyid.value_or(""));
    return exit_failed;
  }
  if (bound) {
    fmt::print("receipt verifies: status {} for {} {}{} (keyid {}, created {})\n", head.status,
               request.method, authority, target, r.params.keyid.value_or(""), r.params.created.value_or(0));
  } else {
    fmt::print(
        "receipt verifies: status {} (keyid {}, created {}), NOT bound to any request: the gateway signed it "
        "on an answer to no request line it could read, and it proves nothing about any request\n",
        head.status, r.params.keyid.value_or(""), r.params.created.value_or(0));
  }
  for (const hs::field_line& f : head.fields) {
    if (hs::is_sovereign_field(f.name)) {
      fmt::print("  {}: {}\n", f.name, f.value);
    }
  }
  if (covers_body) {
    fmt::print("  bound to the request body: Content-Digest {}\n", digest);
  } else if (bound) {
    fmt::print("  not bound to a request body: the request carried no Content-Digest\n");
  }
  return o.has("db") ? check_against_log(o, head, r.params, request.method,
                                         std::string_view(target).substr(0, target.find('?')))
                     : exit_ok;
}

const subcommand receipt_subcommands[] = {
    {"verify",
     receipt_usage,
     {.valued = {"key", "method", "url", "content-digest", "body-file", "db"},
      .min_positional = 1,
      .max_positional = 1,
      .arguments = "exactly one HEAD_FILE"},
     cmd_verify},
};

}  // namespace

int run_receipt(args_t args) { return run_family("receipt", receipt_usage, args, receipt_subcommands); }

}  // namespace sovgw::cli
