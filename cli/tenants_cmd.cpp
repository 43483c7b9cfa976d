#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "common/did_you_mean.hpp"
#include "common/rfc3339.hpp"
#include "policy/config_values.hpp"
#include "policy/diagnostics.hpp"
#include "tenants/tenants.hpp"

namespace sovgw::cli {
namespace {

constexpr const char* tenants_usage =
    "usage: sovgw tenants check FILE\n"
    "       sovgw tenants key create TENANT --file FILE [--expires 90d|12h|2027-03-01T00:00:00Z]\n"
    "                [--requests-per-minute N] [--tokens-per-minute N] [--tokens-per-month N]\n"
    "       sovgw tenants key list --file FILE [--tenant TENANT]\n"
    "       sovgw tenants key revoke KEY_ID|KEY --file FILE\n"
    "  check: validate a tenants file on its own (errors as file:line:col); `sovgw config check\n"
    "    CONFIG` also checks it against the policy, as a SIGHUP does (tenant names the rules use)\n"
    "  key create: print a new API key once (stdout) and append its hash to FILE's keys: list;\n"
    "    the limits options give the key limits of its own, on top of its tenant's\n"
    "  key list: the keys' ids, tenants, times, states and own limits (never a key)\n"
    "  key revoke: mark a key revoked from now\n"
    "  FILE is rewritten atomically, one command at a time (they wait for each other); send the\n"
    "  gateway SIGHUP to load it\n"
    "\n"
    "exit codes: 0 ok; 1 the file has errors (group or others may write it among them), is laid out\n"
    "so that the command cannot edit it (named at file:line), or the key is already revoked; 2 bad usage;\n"
    "3 I/O or environment (the file cannot be read or written)\n";

constexpr std::size_t max_file = 64 * 1024 * 1024;

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string read_file(const std::string& path) {
  std::optional<std::string> text = read_input_file(path, max_file);
  if (!text) {
    throw command_error(exit_environment, fmt::format("{}: larger than {} bytes", path, max_file));
  }
  return std::move(*text);
}

// The file's tenants; its diagnostics on stderr and exit 1 when it has errors (a file that group or
// others may write among them: the gateway refuses it).
std::shared_ptr<const tenants::table> parse_or_fail(const std::string& text, const std::string& path) {
  if (const std::string problem = tenants::writable_by_others(path); !problem.empty()) {
    throw command_error(exit_failed, fmt::format("{}: {}", path, problem));
  }
  tenants::load_result r = tenants::parse_tenants(text, path);
  if (!r.ok()) {
    std::fputs(policy::format_diagnostics(std::move(r.diagnostics)).c_str(), stderr);
    throw command_error(exit_failed, fmt::format("{} has errors; fix them first", path));
  }
  std::fputs(policy::format_diagnostics(std::move(r.diagnostics)).c_str(), stderr);  // its warnings
  return r.tenants;
}

// The file a command edits: `path` with its symbolic links resolved. The file is replaced by a
// rename, which through a link would replace the link with a regular file and leave the file the
// gateway reads as it was (probe round 29: a "revoked" key stayed valid); and the lock below must
// be the real folder's, whichever path a command is given.
std::string file_to_edit(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr) {
    throw command_error(exit_environment, fmt::format("{}: {}", path, std::strerror(errno)));
  }
  std::string resolved(real);
  std::free(real);
  return resolved;
}

// While a command reads, edits and rewrites the file, no other may: an exclusive lock on the
// folder that holds it (the file itself is replaced by a rename, so it cannot carry the lock).
// Released when the process exits.
void lock_folder_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
    throw command_error(exit_environment, fmt::format("{}: cannot lock: {}", folder, std::strerror(errno)));
  }
}

// Replaces `path` with `text`: a temporary file beside it (same mode), fsynced, renamed over it.
// Called under lock_folder_of: a temporary file left by a command that died is stale.
void replace_file(const std::string& path, const std::string& text) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw command_error(exit_environment, fmt::format("{}: {}", path, std::strerror(errno)));
  }
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
  if (fd < 0) {
    throw command_error(exit_environment, fmt::format("{}: {}", tmp, std::strerror(errno)));
  }
  std::size_t done = 0;
  bool ok = ::fchmod(fd, st.st_mode & 07777) == 0;  // the mode exactly, whatever the umask
  while (ok && done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    ok = n > 0;
    done += ok ? static_cast<std::size_t>(n) : 0;
  }
  ok = ok && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw command_error(exit_environment, fmt::format("{}: cannot write: {}", path, why));
  }
}

// Where the flow mapping `{...}` that starts at `at` (a key entry's position) closes: its '}',
// past quoted strings and nested brackets; npos when `at` is not a '{' or the mapping is not closed.
std::size_t closing_brace(const std::string& text, policy::source_pos at) {
  std::size_t i = 0;
  for (int line = 1; line < at.line && i != std::string::npos; ++line) {
    i = text.find('\n', i);
    i = i == std::string::npos ? i : i + 1;
  }
  if (i == std::string::npos || at.column < 1) {
    return std::string::npos;
  }
  i += static_cast<std::size_t>(at.column - 1);
  if (i >= text.size() || text[i] != '{') {
    return std::string::npos;
  }
  int depth = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"' || c == '\'') {
      for (++i; i < text.size() && text[i] != c; ++i) {
        if (c == '"' && text[i] == '\\') {
          ++i;  // an escaped character in a double-quoted string
        }
      }  // a single-quoted '' is two strings back to back: the same
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) {
        return c == '}' ? i : std::string::npos;
      }
    } else if (c == '#' && (text[i - 1] == ' ' || text[i - 1] == '\t')) {
      return std::string::npos;  // a comment inside the mapping: not the one-line form
    }
  }
  return std::string::npos;
}

// "90d", "12h", "30m" from now, or an RFC 3339 time (common/rfc3339.hpp: any offset, converted to
// UTC; a fraction of a second is dropped, the file keeps whole seconds).
std::int64_t parse_expiry(const std::string& text, std::int64_t now) {
  if (const auto us = parse_rfc3339_us(text)) {
    return *us / 1000000;
  }
  std::int64_t n = 0;
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9' && n < 100000000) {
    n = n * 10 + (text[i++] - '0');
  }
  const std::string unit = text.substr(i);
  const std::int64_t factor = unit == "d" ? 86400 : unit == "h" ? 3600 : unit == "m" ? 60 : 0;
  if (i > 0 && n != 0 && factor != 0 && now + n * factor > *tenants::parse_time("9999-12-31T23:59:59Z")) {
    throw usage_error(fmt::format("--expires '{}' is after the year 9999; leave --expires out for a key that "
                                  "does not expire",
                                  text),
                      false);
  }
  // A time before 1970 (which the RFC 3339 reader does not take): in the past, as a later one is
  // said to be (probe round 50: "give ... an RFC 3339 time" for 1969-01-01T00:00:00Z).
  if (i == 4 && n < 1970 && text.size() > 4 && text[4] == '-' &&
      parse_rfc3339_us("1970" + text.substr(4)).has_value()) {
    throw usage_error("--expires is in the past", false);
  }
  if (i > 4 && text[i] == '-') {  // a year of five digits or more: RFC 3339 stops at 9999
    throw usage_error(
        fmt::format("--expires '{}' is after the year 9999 (RFC 3339 has four-digit years); leave "
                    "--expires out for a key that does not expire",
                    text),
        false);
  }
  // A duration of nothing, or in seconds, is a duration all the same: said as such, not as a
  // time that does not parse (probe round 39).
  if (i > 0 && i < text.size() && factor != 0 && n == 0) {
    throw usage_error(fmt::format("--expires '{}': a duration must be at least 1 (90d, 12h, 30m)", text),
                      false);
  }
  if (i > 0 && unit == "s") {
    throw usage_error(fmt::format("--expires '{}': seconds are not a unit here: give minutes, hours or days "
                                  "(30m, 12h, 90d)",
                                  text),
                      false);
  }
  if (i == 0 || n == 0 || factor == 0) {
    throw usage_error(fmt::format("--expires '{}': give a duration (90d, 12h, 30m) or an RFC 3339 time like "
                                  "2027-03-01T00:00:00Z or 2027-03-01T01:00:00+01:00",
                                  text),
                      false);
  }
  return now + n * factor;
}

// Where a new `keys:` entry goes: appended at the end, which must be the keys: list (or the file
// has none yet). `base` is the file's text to append the entry line to (an empty `keys: []`
// becomes a block list), `indent` the entry's indentation.
struct append_point {
  std::string base;
  std::string indent;
};

append_point where_to_append(const std::string& text, const std::string& path) {
  const YAML::Node root = YAML::Load(text);
  // Layouts a line appended at the end cannot extend: refused before a key is generated, so that
  // no key exists that was never stored (probe round 37: "add it by hand" gave an entry whose key
  // nobody had seen).
  if (root.Style() == YAML::EmitterStyle::Flow) {
    throw command_error(
        exit_failed, fmt::format("{}:{}:{}: the file is one flow mapping ({{...}}): write it in block style "
                                 "(one 'key: value' per line, keys: last) for keys to be appended",
                                 path, root.Mark().line + 1, root.Mark().column + 1));
  }
  std::string_view trimmed = text;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r' || trimmed.back() == ' ')) {
    trimmed.remove_suffix(1);
  }
  if (trimmed.ends_with("\n...") || trimmed == "...") {
    throw command_error(exit_failed,
                        fmt::format("{}: the file ends with the document end marker '...': remove "
                                    "it for keys to be appended",
                                    path));
  }
  append_point out{text, "  "};
  const auto end_line = [&out] {
    if (!out.base.empty() && out.base.back() != '\n') {
      out.base += '\n';
    }
  };
  const YAML::Node keys = root["keys"];
  if (!keys) {
    end_line();
    out.base += "keys:\n";
    return out;
  }
  int keys_line = -1;
  int last_line = -1;
  for (auto it = root.begin(); it != root.end(); ++it) {
    last_line = std::max(last_line, it->first.Mark().line);
    if (it->first.Scalar() == "keys") {
      keys_line = it->first.Mark().line;
    }
  }
  if (keys_line != last_line) {
    throw command_error(
        exit_failed, fmt::format("{}:{}:1: keys: must be the last section for keys to be appended; move it "
                                 "to the end",
                                 path, keys_line + 1));
  }
  if (keys.Style() == YAML::EmitterStyle::Flow) {
    auto open = static_cast<std::size_t>(keys.Mark().pos);
    // Past a byte order mark, which the reader skips and its offsets may not count (probe round 37).
    if (open + 3 < text.size() && text.starts_with("\xEF\xBB\xBF") && text[open] != '[' &&
        text[open + 3] == '[') {
      open += 3;
    }
    const std::size_t close = text.find(']', open);
    if (keys.IsSequence() && keys.size() == 0 && open < text.size() && text[open] == '[' &&
        close != std::string::npos) {
      // `keys: []` (or `[ ]`): the same empty list, written as a block list the entries can follow;
      // with nothing after it on its line, the spaces before it go too (probe round 39: `keys: `).
      out.base.erase(open, close + 1 - open);
      std::size_t line_end = out.base.find('\n', open);
      line_end = line_end == std::string::npos ? out.base.size() : line_end;
      if (out.base.find_first_not_of(" \t\r", open) >= line_end) {
        std::size_t from = open;
        while (from > 0 && (out.base[from - 1] == ' ' || out.base[from - 1] == '\t')) {
          --from;
        }
        out.base.erase(from, open - from);
      }
      end_line();
      return out;
    }
    throw command_error(exit_failed,
                        fmt::format("{}:{}:{}: keys: is a flow list ([...]): write it as a block list, one "
                                    "'- {{...}}' per line, for keys to be appended",
                                    path, keys.Mark().line + 1, keys.Mark().column + 1));
  }
  end_line();
  if (keys.IsSequence() && keys.size() > 0) {
    const int column = keys[0].Mark().column;
    out.indent.assign(static_cast<std::size_t>(std::max(0, column - 2)), ' ');
  }
  return out;
}

// --requests-per-minute and the like: the key's own limits, written as the file's `limits:`.
std::string limits_entry(const options& o) {
  std::string out;
  for (const char* name : {"requests-per-minute", "tokens-per-minute", "tokens-per-month"}) {
    const std::optional<std::string> v = o.get(name);
    if (!v) {
      continue;
    }
    const std::optional<std::uint64_t> n = policy::parse_whole_number(*v);
    if (!n || *n == 0 || *n > 1000000000000ULL) {
      throw usage_error(fmt::format("--{} '{}': give a whole number from 1 to 10^12", name, *v), false);
    }
    std::string key = name;
    std::replace(key.begin(), key.end(), '-', '_');
    out += fmt::format("{}{}: {}", out.empty() ? "" : ", ", key, *n);
  }
  return out.empty() ? out : fmt::format(", limits: {{{}}}", out);
}

int cmd_check(const options& o) {
  const std::string& path = o.positional()[0];
  const auto t = parse_or_fail(read_file(path), path);
  const std::size_t tenants = t->tenants().size();
  const std::size_t keys = t->keys().size();
  std::printf("%s: %zu tenant%s, %zu key%s\n", path.c_str(), tenants, tenants == 1 ? "" : "s", keys,
              keys == 1 ? "" : "s");
  // Probe round 40: a file that passed here was refused on SIGHUP (the policy named a tenant it
  // dropped): the check against the policy is config check's.
  std::fputs(
      "note: the file on its own; `sovgw config check CONFIG` also checks it against the policy (the "
      "tenants its rules name), as the gateway does on SIGHUP\n",
      stderr);
  return exit_ok;
}

// "tenant 'ACME' is not declared in t.yaml; did you mean 'acme'?" (names are compared exactly).
std::string undeclared_tenant(const tenants::table& table, std::string_view name, const std::string& path) {
  std::vector<std::string> names;
  for (const tenants::tenant& t : table.tenants()) {
    names.push_back(t.name);
  }
  const std::string hint = did_you_mean(name, names);
  return fmt::format("tenant '{}' is not declared in {}{}", name, path,
                     hint.empty() ? "" : hint + " (tenant names are compared exactly)");
}

int cmd_create(const options& o) {
  const std::string path = file_to_edit(o.need("file"));
  const std::string& tenant = o.positional()[0];
  lock_folder_of(path);
  const std::string text = read_file(path);
  const auto table = parse_or_fail(text, path);
  if (table->find_tenant(tenant) == nullptr) {
    throw usage_error(undeclared_tenant(*table, tenant, path), false);
  }
  const std::int64_t now = now_seconds();
  const std::int64_t expires = o.has("expires") ? parse_expiry(*o.get("expires"), now) : 0;
  const std::string limits = limits_entry(o);  // bad usage before anything is generated
  if (o.has("expires") && expires <= now) {
    throw usage_error("--expires is in the past", false);
  }
  const std::string key = tenants::generate_key();
  const std::string id = tenants::key_id_of(key);
  const append_point at = where_to_append(text, path);
  std::string entry =
      fmt::format("{}- {{tenant: {}, id: {}, hash: \"{}\", created: {}", at.indent, tenant, id,
                  tenants::format_hash(tenants::hash_key(key)), tenants::format_time(now));
  if (expires != 0) {
    entry += fmt::format(", expires: {}", tenants::format_time(expires));
  }
  entry += limits + "}\n";
  const std::string updated = at.base + entry;
  // The new file must parse and hold the new key before it replaces the old one.
  const tenants::load_result check = tenants::parse_tenants(updated, path);
  if (!check.ok() || check.tenants->check_key(key, now).status != tenants::key_check::valid) {
    throw command_error(
        exit_failed,
        fmt::format("{}: the key could not be appended to its keys: list (the file would not read back "
                    "with it); no key was created: write keys: as a block list at the end of the file",
                    path));
  }
  // The key is delivered before it is stored: a key written nowhere (a full disk under
  // `> demo.key`) must not become an active key nobody holds.
  std::printf("%s\n", key.c_str());
  if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) {
    throw command_error(
        exit_environment,
        fmt::format("cannot write the new key to standard output ({}): no key was added to {}",
                    std::strerror(errno), path));
  }
  try {
    replace_file(path, updated);
  } catch (const command_error& e) {
    throw command_error(e.exit_code(),
                        fmt::format("{}; the key printed above ({}) was not stored and is void: "
                                    "discard it and create another",
                                    e.what(), id));
  }
  std::fprintf(stderr,
               "created key %s for tenant '%s'%s; it is shown once, only its hash is stored in %s.\n"
               "Send the gateway SIGHUP to load it.\n",
               id.c_str(), tenant.c_str(),
               expires != 0 ? fmt::format(" (expires {})", tenants::format_time(expires)).c_str() : "",
               path.c_str());
  return exit_ok;
}

// A key's own limits as `key list` shows them ("-": only its tenant's apply).
std::string limits_text(const tenants::tenant_limits& l) {
  std::string out;
  const auto add = [&](std::string_view name, std::uint64_t v) {
    if (v != 0) {
      out += fmt::format("{}{}={}", out.empty() ? "" : ",", name, v);
    }
  };
  add("requests_per_minute", l.requests_per_minute);
  add("tokens_per_minute", l.tokens_per_minute);
  add("tokens_per_month", l.tokens_per_month);
  return out.empty() ? "-" : out;
}

int cmd_list(const options& o) {
  const std::string& path = o.need("file");
  const auto table = parse_or_fail(read_file(path), path);
  const std::optional<std::string> only = o.get("tenant");
  if (only && table->find_tenant(*only) == nullptr) {
    throw usage_error(undeclared_tenant(*table, *only, path), false);
  }
  const std::int64_t now = now_seconds();
  std::printf("%-18s %-20s %-21s %-21s %-8s %s\n", "ID", "TENANT", "CREATED", "EXPIRES", "STATE", "LIMITS");
  for (const tenants::api_key& k : table->keys()) {
    if (only && k.tenant != *only) {
      continue;
    }
    const tenants::key_check check = tenants::table::status_of(k, now).status;
    const char* state = check == tenants::key_check::revoked   ? "revoked"
                        : check == tenants::key_check::expired ? "expired"
                                                               : "active";
    std::printf("%-18s %-20s %-21s %-21s %-8s %s\n", k.id.c_str(), k.tenant.c_str(),
                k.created != 0 ? tenants::format_time(k.created).c_str() : "-",
                k.expires != 0 ? tenants::format_time(k.expires).c_str() : "never", state,
                limits_text(k.limits).c_str());
  }
  return exit_ok;
}

int cmd_revoke(const options& o) {
  const std::string path = file_to_edit(o.need("file"));
  const std::string& given = o.positional()[0];
  lock_folder_of(path);
  const std::string text = read_file(path);
  const auto table = parse_or_fail(text, path);
  const std::int64_t now = now_seconds();
  const tenants::api_key* key = nullptr;
  // A whole key (pasted from where it leaked) revokes the entry it hashes to. What is given is
  // never printed whole: it may be a secret.
  const std::string id_of_key = tenants::key_id_of(given);
  if (!id_of_key.empty() && given.size() > id_of_key.size()) {
    key = table->check_key(given, now).key;
  } else {
    for (const tenants::api_key& k : table->keys()) {
      if (k.id == given) {
        key = &k;
      }
    }
  }
  if (key == nullptr) {
    constexpr std::size_t shown = tenants::key_scheme.size() + tenants::key_id_chars;  // longer: maybe a key
    throw usage_error(
        fmt::format("no key {}{} in {} (give the key's id, its first {} characters, as `tenants key "
                    "list` shows it, or the whole key; an entry whose id: is not its key's first {} "
                    "characters is found by the whole key only, and the gateway refuses that key and "
                    "logs the entry's line)",
                    given.substr(0, shown), given.size() > shown ? "..." : "", path, shown, shown),
        false);
  }
  const std::string& id = key->id;
  if (!id_of_key.empty() && given.size() > id_of_key.size() && id_of_key != id) {
    // Found by the whole key, whose entry names another id (probe round 39): what to correct.
    std::fprintf(
        stderr, "%s\n",
        fmt::format("note: the key given starts with {} but its entry (line {}) says id: {}: correct "
                    "the id (the gateway refuses the key until then)",
                    id_of_key, key->pos.line, id)
            .c_str());
  }
  if (key->revoked != 0) {
    std::fprintf(stderr, "key %s was already revoked at %s\n", id.c_str(),
                 tenants::format_time(key->revoked).c_str());
    return exit_failed;
  }
  // The entry must be a flow mapping `{...}` (the form `key create` writes): `revoked:` goes
  // before the brace that closes it (not one in a comment after it, or in a quoted value).
  const std::size_t close = closing_brace(text, key->pos);
  if (close == std::string::npos) {
    throw command_error(exit_failed, fmt::format("{}:{}: key {} is not written as one line '- {{...}}'; add "
                                                 "`revoked: {}` to it by hand",
                                                 path, key->pos.line, id, tenants::format_time(now)));
  }
  std::string updated = text;
  updated.insert(close, fmt::format(", revoked: {}", tenants::format_time(now)));
  // The edit is checked, not assumed: the file must parse and hold this key, revoked.
  const tenants::load_result check = tenants::parse_tenants(updated, path);
  const auto revoked = [&] {
    for (const tenants::api_key& k : check.tenants->keys()) {
      if (k.id == id) {
        return k.revoked != 0;
      }
    }
    return false;
  };
  if (!check.ok() || !revoked()) {
    throw command_error(exit_failed,
                        fmt::format("{}:{}: could not mark key {} revoked; add `revoked: {}` by hand", path,
                                    key->pos.line, id, tenants::format_time(now)));
  }
  replace_file(path, updated);
  std::printf("revoked key %s of tenant '%s'; send the gateway SIGHUP to apply it\n", id.c_str(),
              key->tenant.c_str());
  return exit_ok;
}

const subcommand key_subcommands[] = {
    {"create",
     tenants_usage,
     {.valued = {"file", "expires", "requests-per-minute", "tokens-per-minute", "tokens-per-month"},
      .min_positional = 1,
      .max_positional = 1,
      .arguments = "one TENANT"},
     cmd_create},
    {"list", tenants_usage, {.valued = {"file", "tenant"}}, cmd_list},
    {"revoke",
     tenants_usage,
     {.valued = {"file"},
      .min_positional = 1,
      .max_positional = 1,
      .arguments = "one KEY_ID (or the whole key)"},
     cmd_revoke},
};

const subcommand tenants_subcommands[] = {
    {"check",
     tenants_usage,
     {.min_positional = 1, .max_positional = 1, .arguments = "one tenants FILE"},
     cmd_check},
};

}  // namespace

int run_tenants(args_t args) {
  if (!args.empty() && args[0] == "key") {
    return run_family("tenants key", tenants_usage, args.subspan(1), key_subcommands);
  }
  return run_family("tenants", tenants_usage, args, tenants_subcommands);
}

}  // namespace sovgw::cli
