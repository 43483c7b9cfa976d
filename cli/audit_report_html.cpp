// The sovereignty report as one HTML page: inline CSS and SVG, no script, nothing fetched (the
// page's Content-Security-Policy forbids it), readable offline and printable. Every value from the
// log is escaped.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "cli/audit_output.hpp"
#include "cli/audit_report.hpp"
#include "cli/audit_support.hpp"
#include "common/plural.hpp"
#include "common/printable.hpp"
#include "common/rfc3339.hpp"
#include "common/shell_word.hpp"
#include "common/utf8.hpp"
#include "crypto/base64.hpp"

namespace sovgw::cli {
namespace {

constexpr const char* style = R"(
:root { --ok: #1b7f3b; --bad: #c62828; --warn: #b26a00; --ink: #1d2430; --mute: #5b6573; --line: #d8dde3; }
* { box-sizing: border-box; }
body { font: 14px/1.45 "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1040px; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 10px; border-bottom: 2px solid var(--ink); padding-bottom: 4px; }
section { margin: 26px 0 0; break-inside: avoid; page-break-inside: avoid; }
.sub, .note { color: var(--mute); }
.note { font-size: 12.5px; margin: 6px 0 0; }
code, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; background: #f3f5f7; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.banner { padding: 12px 16px; border-radius: 6px; font-size: 17px; font-weight: 600; }
.banner.ok, .banner.bad { color: #fff; }  /* over .bad's red text */
.banner.ok { background: var(--ok); }
.banner.bad { background: var(--bad); }
dl.facts { display: grid; grid-template-columns: 210px 1fr; gap: 4px 14px; margin: 12px 0 0; }
dl.facts dt { color: var(--mute); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
ul.problems { color: var(--bad); font-weight: 600; margin: 10px 0 0; padding-left: 20px; }
.warn { color: var(--warn); }
.bad { color: var(--bad); }
.nr { color: var(--mute); font-style: italic; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 10px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.card b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
.card span { color: var(--mute); font-size: 12px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 12.5px; margin: 6px 0; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px;
            vertical-align: -1px; }
.bar { height: 10px; background: var(--bad); border-radius: 2px; min-width: 1px; }
svg { display: block; width: 100%; height: auto; }
svg text { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 12px; fill: var(--ink); }
svg text.m { fill: var(--mute); }
footer { margin-top: 32px; font-size: 12px; color: var(--mute); border-top: 1px solid var(--line);
         padding-top: 8px; }
@page { size: A4; margin: 12mm; }
@media print { body { padding: 0; max-width: none; font-size: 11px; } section { margin-top: 16px; } }
)";

constexpr const char* colour_permitted = "#2e8b57";
constexpr const char* colour_denied = "#c62828";
constexpr const char* colour_failed = "#e0a100";
constexpr const char* colour_unclassified = "#a3acb8";
constexpr const char* colour_gateway = "#7a8796";
constexpr std::array<const char*, 6> class_colours = {"#3b6fd1", "#e07b1e", "#8e55c9",
                                                      "#1c9a94", "#d45792", "#8a9a2b"};

// HTML text for a value: markup characters as references, and characters no reader should get as
// they are (controls, bidi overrides that reorder what follows, line separators) shown as \uXXXX,
// as the CLI shows them (printable()): a tenant or cluster name cannot reverse a table cell.
std::string html_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

std::string esc(std::string_view raw) { return html_text(printable(raw)); }

// A command to paste into a shell, its values quoted by shell_word(): as it is (esc() would double
// the backslash of the quoting's '\''), unless it holds characters no reader should get as they
// are, which esc() shows escaped.
std::string esc_command(std::string_view command) {
  for (std::size_t i = 0; i < command.size();) {
    char32_t c = 0;
    const std::size_t n = utf8_sequence_at(command, i, c);
    if (n == 0 || hidden_from_terminals(c)) {
      return esc(command);
    }
    i += n;
  }
  return html_text(command);
}

std::string num(std::uint64_t v) {
  std::string digits = std::to_string(v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out += ',';
    }
    out += digits[i];
  }
  return out;
}

// "2026-11-27 10:00:00 UTC" ("after 9999-12-31" from the year 10000 on)
std::string when(std::uint64_t us) {
  std::string t = format_time_to(us, 19);
  if (t.size() == 19) {
    t[10] = ' ';
    t += " UTC";
  }
  return t;
}

// "2026-11-27T10:00:00Z", "2026-11-27T10:00:00.700000Z" with a fraction: RFC 3339, as `audit query
// --since/--until` take it, to the microsecond a time counts at.
std::string exact_time(std::uint64_t us) {
  return format_rfc3339_us(us, us % 1000000 != 0).value_or(format_time(us));
}

constexpr std::size_t max_flow_rows = 15;
constexpr std::size_t max_tenant_rows = 50;

// Under a table that shows only the largest `limit` of `total` rows.
std::string capped_note(std::size_t limit, std::size_t total, std::string_view what) {
  return total <= limit
             ? std::string()
             : fmt::format(
                   R"(<p class="note">The {} largest of {} {}; <code>--format json</code> lists all.</p>)",
                   limit, total, what);
}

std::string code_list(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    out += fmt::format("{}<code>{}</code>", out.empty() ? "" : separator, esc(item));
  }
  return out;
}

std::string not_recorded() { return R"(<span class="nr">not recorded</span>)"; }

std::string bucket_label(std::uint64_t us) {
  const std::uint64_t s = us / 1000000;
  if (s % 86400 == 0) {
    return fmt::format("{} day{}", s / 86400, s == 86400 ? "" : "s");
  }
  if (s % 3600 == 0) {
    return fmt::format("{} h", s / 3600);
  }
  if (s % 60 == 0) {
    return fmt::format("{} min", s / 60);
  }
  return fmt::format("{} s", s);
}

std::string class_label(std::string_view classes) {
  return classes.empty() ? "no data class" : std::string(classes);
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? "0%"
                    : fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

// --- verification -------------------------------------------------------------------------

// What only the stored checkpoints that fail cover: the records the log holds beyond the newest
// that verifies, and those it no longer holds (deleted from its end).
std::string failing_coverage(const audit::verify_report& v) {
  const std::uint64_t from = v.latest->size;
  const std::uint64_t held = std::min(v.newest_checkpoint_size, v.records);
  const auto range = [](std::uint64_t first, std::uint64_t end) {
    return end - first == 1 ? fmt::format("record {}", num(first))
                            : fmt::format("records {}..{}", num(first), num(end - 1));
  };
  std::string out;
  if (held > from) {
    out += fmt::format("; {} {} covered only by checkpoints that fail", range(from, held),
                       held - from == 1 ? "is" : "are");
  }
  if (v.newest_checkpoint_size > std::max(v.records, from)) {
    const std::uint64_t first = std::max(v.records, from);
    out += fmt::format("; they cover {} too, which the log no longer holds",
                       range(first, v.newest_checkpoint_size));
  }
  return out;
}

std::string verification_section(const audit::report& r, const report_context& c) {
  const auto& v = r.verification;
  std::string out = R"(<section id="verification"><h2>Log verification</h2>)";
  if (v.ok()) {
    // Whether the stored payloads were read is part of the verdict: a green banner says so.
    out += fmt::format(
        R"(<div class="banner ok">&#10003; The log verifies: {} record{}, none altered, missing or reordered{}{}</div>)",
        num(v.signed_records()), v.signed_records() == 1 ? "" : "s",
        // Without a checkpoint kept outside the log, its end is only as complete as its own newest
        // checkpoint says: records deleted together with their checkpoints would not show.
        (c.held_from.empty() || c.stale) && v.latest
            ? fmt::format(" up to its newest signed checkpoint (size {})", num(v.latest->size))
            : std::string(),
        c.payloads ? fmt::format("; its {} stored payloads match their records", num(c.payloads->checked))
        : v.sealed_records > 0 ? std::string("; its stored payloads were NOT checked (--payloads)")
                               : std::string());
  } else {
    // No checkpoint signed by the key given: most likely the wrong key, said first as verify says
    // it, before counts that read as forgery (probe round 39).
    const std::string hint = wrong_key_hint(v, c.key);
    out += fmt::format(
        R"(<div class="banner bad">&#10007; The log does NOT verify{}{}: the figures below come from records that may have been altered or removed</div>)",
        hint.empty() ? std::string() : ": " + esc(hint),
        v.unchecked_checkpoints > 0
            ? fmt::format(" (it cannot be read: {} of {} signed checkpoints not checked)",
                          num(v.unchecked_checkpoints), num(v.stored_checkpoints))
        : v.failed_checkpoints() > 0 ? fmt::format(" ({} of {} signed checkpoints fail verification)",
                                                   num(v.failed_checkpoints()), num(v.stored_checkpoints))
        : v.contradicting_checkpoints > 0
            ? fmt::format(
                  " ({} of {} signed checkpoints contradict a checkpoint kept outside the log: a fork)",
                  num(v.contradicting_checkpoints), num(v.stored_checkpoints))
            : std::string());
  }
  out += R"(<dl class="facts">)";
  // The records a stored checkpoint covers, and beyond them those only one kept outside the log does.
  const std::uint64_t stored_size = v.latest ? v.latest->size : 0;
  const bool held_newer = v.newest_held_size > stored_size;
  if (v.ok()) {
    out += fmt::format(
        "<dt>Records verified</dt><dd>{} (the whole log up to its newest signed checkpoint, size {}{}; {} in "
        "this report's period)</dd>",
        num(v.signed_records()), num(held_newer ? v.newest_held_size : stored_size),
        held_newer ? ", one kept outside it" : "", num(r.records_in_period - r.unsigned_in_period));
  } else {
    out += fmt::format(
        R"(<dt>Records read</dt><dd class="bad">{} (the whole log{}; {} in this report's period): )"
        "verification FAILED, see the problems below</dd>",
        num(v.records - v.missing_records),
        v.missing_records > 0 || v.truncated_records > 0
            ? fmt::format(", which has {} positions: {} missing{}", num(v.records + v.truncated_records),
                          num(v.missing_records + v.truncated_records),
                          v.truncated_records > 0
                              ? fmt::format(", {} of them at its end", num(v.truncated_records))
                              : std::string())
            : std::string(),
        num(r.records_in_period));
  }
  if (v.latest && v.failed_checkpoints() > 0) {
    out += fmt::format(
        R"(<dt>Checked against checkpoint</dt><dd class="bad">{} of {} stored checkpoints FAIL verification; )"
        "the newest that verifies: {}, size {}, root <code>{}</code>{}</dd>",
        num(v.failed_checkpoints()), num(v.stored_checkpoints), esc(v.latest->origin), num(v.latest->size),
        esc(crypto::to_base64(v.latest->root)), failing_coverage(v));
  } else if (v.latest) {
    out += fmt::format(
        "<dt>Checked against checkpoint</dt><dd{}>{}, size {}, root <code>{}</code> ({} signed "
        "checkpoint{} stored in the log verified){}{}</dd>",
        v.contradicting_checkpoints > 0 ? R"( class="bad")" : "", esc(v.latest->origin), num(v.latest->size),
        esc(crypto::to_base64(v.latest->root)), num(v.checkpoints), v.checkpoints == 1 ? "" : "s",
        held_newer ? fmt::format("; records {}..{} against the newer one kept outside it (size {}), which "
                                 "the log reproduces",
                                 num(v.latest->size), num(v.newest_held_size - 1), num(v.newest_held_size))
                   : std::string(),
        v.contradicting_checkpoints > 0
            ? fmt::format("; {} more {} signed by this key and match{} the records, but contradict{} a "
                          "checkpoint kept outside the log (a fork: see the problems below)",
                          num(v.contradicting_checkpoints), v.contradicting_checkpoints == 1 ? "is" : "are",
                          v.contradicting_checkpoints == 1 ? "es" : "",
                          v.contradicting_checkpoints == 1 ? "s" : "")
            : std::string());
  } else if (v.contradicting_checkpoints > 0) {
    // Signed by the key and matching the records, but contradicted by a checkpoint kept outside the
    // log: not "no stored checkpoint verifies" (probe round 40), and not verified either.
    out += fmt::format(
        R"(<dt>Checked against checkpoint</dt><dd class="bad">none verified: {} of {} stored checkpoint{} )"
        "{} signed by this key and match{} the records, but contradict{} a checkpoint kept outside the log "
        "(a fork: see the problems below)</dd>",
        num(v.contradicting_checkpoints), num(v.stored_checkpoints), v.stored_checkpoints == 1 ? "" : "s",
        v.contradicting_checkpoints == 1 ? "is" : "are", v.contradicting_checkpoints == 1 ? "es" : "",
        v.contradicting_checkpoints == 1 ? "s" : "");
  } else {
    out +=
        R"(<dt>Checked against checkpoint</dt><dd class="bad">none: no stored checkpoint verifies under this key</dd>)";
  }
  out += fmt::format(
      "<dt>Signing key</dt><dd><code>{}+{:08x}</code><br>fingerprint (RFC 7638 SHA-256 thumbprint) "
      "<code>{}</code></dd>",
      esc(c.key.name), c.key.key_id, esc(key_fingerprint(c.key)));
  out += fmt::format("<dt>Index entries checked</dt><dd>{}</dd>", num(v.index_entries));
  out += fmt::format(
      "<dt>Payloads recorded</dt><dd>payloads: {} (this period's requests; audit.payload and the "
      "policies' log_payload decide what each keeps)</dd>",
      payload_modes_text(r.payloads.sealed, r.payloads.digest, r.payloads.none));
  if (c.payloads) {
    out += fmt::format(
        "<dt>Stored payloads</dt><dd>{} checked against their records' hashes; {} dropped by retention and "
        "{} "
        "unreadable after crypto-shredding{}, as the log's events record; {} data key store entries "
        "read{}</dd>",
        num(c.payloads->checked), num(c.payloads->dropped_by_retention), num(c.payloads->shredded),
        esc(shredded_then_dropped(*c.payloads)), num(c.payloads->data_keys),
        c.payloads->unsigned_payloads == 0
            ? std::string()
            : fmt::format(R"(; <span class="warn">{} stored for the unsigned records not checked</span> )"
                          "(nothing vouches for those records)",
                          num(c.payloads->unsigned_payloads)));
    if (const auto& p = c.payloads->period) {
      // The period's payloads that events took, often events after the period (probe round 42).
      std::vector<std::string> by;
      for (const auto& e : p->events) {
        by.push_back(fmt::format("{} by the {} at record {} ({})", num(e.payloads),
                                 e.retention ? std::string("retention event")
                                             : fmt::format("crypto-shred of tenant {}", esc(e.tenant)),
                                 e.seq,
                                 e.timestamp_us == 0 ? std::string("time unknown") : when(e.timestamp_us)));
      }
      const std::uint64_t gone = p->dropped_by_retention + p->shredded;
      out += fmt::format(
          R"(<dt>Payloads of the period</dt><dd{}>{} of the period's {} sealed payloads {}: {} dropped by )"
          "retention, {} unreadable after crypto-shredding{}</dd>",
          gone > 0 ? R"( class="warn")" : "", num(gone), num(p->sealed), gone == 1 ? "is gone" : "are gone",
          num(p->dropped_by_retention), num(p->shredded),
          by.empty() ? std::string() : fmt::format(" ({})", fmt::join(by, "; ")));
    }
  } else if (v.sealed_records > 0) {
    out += fmt::format(
        R"(<dt>Stored payloads</dt><dd class="warn">not checked: {} record{} sealed a payload; <code>--payloads</code> )"
        "checks them against their records and the log's events</dd>",
        num(v.sealed_records), v.sealed_records == 1 ? "" : "s");
  }
  // What was there but is not held is named, never called absent (probe round 39: a published
  // file signed by another key was "none published beside it", a refused --checkpoint unnamed).
  std::string given = "no checkpoint kept outside the log (<code>--checkpoint</code>)";
  std::string published = fmt::format("none published beside it (<code>{}</code>)", esc(c.published_path));
  std::vector<std::string> not_held;
  for (const auto& n : c.not_held) {
    // Its problem is listed below, unless the wrong key left a published file's out (held_checkpoints).
    const bool listed = std::any_of(v.problems.begin(), v.problems.end(),
                                    [&](const audit::problem& p) { return p.text == n.why; });
    std::string& said = n.published ? published : given;
    said = !listed       ? esc(n.why)
           : n.published ? fmt::format(
                               "the one published beside it (<code>{}</code>) is not held (see the "
                               "problems below)",
                               esc(n.path))
                         : fmt::format(
                               "the checkpoint given with <code>--checkpoint {}</code> is not held "
                               "(see the problems below)",
                               esc(n.path));
    not_held.push_back(said);
  }
  const std::string also = not_held.empty() ? std::string() : fmt::format("; {}", fmt::join(not_held, "; "));
  if (const std::string pending = c.pending.text(); !pending.empty()) {
    out += fmt::format(R"(<dt>Not on the log yet</dt><dd class="warn">{}</dd>)", esc(pending));
  }
  if (c.stale) {
    // A checkpoint kept outside the log that is older than the log's own vouches for its records
    // only: the newest ones could be deleted with their stored checkpoints, unnoticed.
    out += fmt::format(
        R"(<dt>End of the log</dt><dd class="warn">checked only up to size {}: the checkpoint {} (kept outside )"
        "the log, reproduced) {}; records deleted from its end after them would not show{}{}</dd>",
        num(c.stale->source.checkpoint.size),
        c.stale->source.published
            ? fmt::format("published at <code>{}</code>", esc(c.stale->source.path))
            : fmt::format("you hold, <code>--checkpoint {}</code>", esc(c.stale->source.path)),
        esc(c.stale->text),
        !c.stale->source.published
            ? " (keep a newer one: <code>sovgw audit verify --save-checkpoint FILE</code>)"
        : c.stale->writer_running
            ? " (the file is older than the log's own checkpoints while a writer holds the log: a running "
              "gateway may not have published its newest checkpoint yet: run the report again; if it stays "
              "older, the gateway cannot publish it: see its log ('audit checkpoint not signed or "
              "published') and sovgw_audit_checkpoint_failures_total)"
            : " (the file is older than the log's own checkpoints: the writer could not publish since, or "
              "it was replaced)",
        also);
  } else if (!c.held_from.empty() && !every_held_reproduced(v, c.held_from.size())) {
    // Each one with its own verdict: the auditor's checkpoint that the log contradicts is never
    // listed among reproduced ones beside the operator's published file (probe round 40).
    std::vector<std::string> from;
    for (std::size_t i = 0; i < c.held_from.size(); ++i) {
      const auto& f = c.held_from[i];
      const std::string_view verdict = held_verdict_name(v, i);
      from.push_back(fmt::format(
          "{} (size {}): {}",
          f.published ? fmt::format("the one published at <code>{}</code>", esc(f.path))
                      : fmt::format("the one you hold, <code>--checkpoint {}</code>", esc(f.path)),
          num(f.checkpoint.size),
          verdict == "reproduced" ? std::string("reproduced")
          : verdict == "contradicted"
              ? std::string("<strong>CONTRADICTED</strong>: the log has another root at "
                            "its size (see the problems below)")
          : verdict == "not_reached" ? std::string("<strong>NOT REACHED</strong>: the log no longer holds "
                                                   "the records it covers (see the problems below)")
                                     : std::string("not checked: the records it covers could not be read")));
    }
    out += fmt::format(
        R"(<dt>End of the log</dt><dd class="bad">checked against {} checkpoint{} kept outside it: {}{}</dd>)",
        num(c.held_from.size()), c.held_from.size() == 1 ? "" : "s", fmt::join(from, "; "), also);
  } else if (!c.held_from.empty()) {
    std::vector<std::string> from;
    for (const auto& f : c.held_from) {
      from.push_back(f.published
                         ? fmt::format("the one published at <code>{}</code>", esc(f.path))
                         : fmt::format("the one you hold, <code>--checkpoint {}</code>", esc(f.path)));
    }
    out += fmt::format(
        "<dt>End of the log</dt><dd{}>checked against {} checkpoint{} kept outside it ({}), reproduced: "
        "{}{}</dd>",
        v.missing_records > 0 ? R"( class="bad")" : "", num(c.held_from.size()),
        c.held_from.size() == 1 ? "" : "s", fmt::join(from, "; "),
        v.missing_records > 0
            ? fmt::format("its root, from the stored tree; but {} {} it covers {} missing",
                          num(v.missing_records), plural(v.missing_records, "record", "records"),
                          v.missing_records == 1 ? "is" : "are")
        : v.records > v.newest_held_size ? "the log only grew since"
                                         : "the log is as it was then",
        also);
  } else {
    out += fmt::format(
        R"(<dt>End of the log</dt><dd class="warn">not checked: {}, and {}; records deleted from its end )"
        "together with their checkpoints would not show</dd>",
        given, published);
  }
  if (v.uncovered_records() > 0) {
    out += fmt::format(
        R"(<dt>Unsigned records</dt><dd class="warn">{} newer {}, {}, {} not covered by a signed )"
        "checkpoint yet: nothing vouches for {}, and the figures below leave {} out ({} in this report's "
        "period). A running gateway signs a checkpoint every <code>checkpoint_interval</code> and its last "
        "at a clean shutdown</dd>",
        num(v.uncovered_records()), plural(v.uncovered_records(), "record", "records"),
        v.uncovered_records() == 1 ? num(v.signed_records())
                                   : fmt::format("{}..{}", num(v.signed_records()), num(v.records - 1)),
        v.uncovered_records() == 1 ? "is" : "are", v.uncovered_records() == 1 ? "it" : "them",
        v.uncovered_records() == 1 ? "it" : "them", num(r.unsigned_in_period));
  }
  if (v.forced_opens > 0) {
    out += fmt::format(
        R"(<dt>Forced opens</dt><dd class="warn">the log records {} forced {} over a failed verification</dd>)",
        num(v.forced_opens), plural(v.forced_opens, "open", "opens"));
  }
  out += "</dl>";
  if (!v.problems.empty()) {
    out += R"(<ul class="problems">)";
    for (const auto& p : listed_problems(v, c.key)) {  // as verify lists them
      out += fmt::format("<li>{} <span class=\"mono\">({})</span></li>", esc(p.text), to_string(p.kind));
    }
    out += "</ul>";
  }
  if (!r.recent_events.empty()) {
    out += fmt::format(
        R"(<p class="note">{} log {} in the period (crypto-shredding, retention, forced opens); the newest:</p><table><tr><th>time</th><th class="n">record</th><th>tenant</th><th>event</th></tr>)",
        num(r.events), plural(r.events, "event", "events"));
    for (const auto& e : r.recent_events) {
      out += fmt::format(R"(<tr><td>{}</td><td class="n">{}</td><td>{}</td><td>{}</td></tr>)",
                         when(e.timestamp_us), e.seq, esc(e.tenant), esc(e.note.substr(0, 400)));
    }
    out += "</table>";
  }
  // The command that checks what this page checked, to the same verdict: the same key, the same
  // --checkpoint, held or not (probe round 39: one refused was left out, and the command said OK
  // where the page said the log does not verify), --payloads when it was given (the published
  // checkpoint, beside the log, verify finds by itself; --since and --until bound the figures, not
  // the verification).
  std::string recheck =
      fmt::format("sovgw audit verify --db {} --pubkey {}", shell_word(c.db), shell_word(c.pubkey_path));
  if (c.checkpoint_option) {
    recheck += " --checkpoint " + shell_word(*c.checkpoint_option);
  }
  out += fmt::format(
      R"(<p class="note">Re-check it yourself: <code>{}</code>{}</p></section>)",
      esc_command(c.payloads_option ? recheck + " --payloads" : recheck),
      !c.payloads_option && v.sealed_records > 0
          ? fmt::format("; its stored payloads too, which this page did not check: <code>{}</code>",
                        esc_command(recheck + " --payloads"))
          : std::string());
  return out;
}

std::string summary_section(const audit::report& r) {
  // Countries only: `private` and `unknown` addresses are no country, so the card says it leaves
  // them out, as the flow picture lists them (probe round 39).
  std::set<std::string_view> clients;
  std::set<std::string_view> no_country;
  for (const auto& f : r.flows) {
    (f.client_country.size() == 2 ? clients : no_country).insert(f.client_country);
  }
  std::vector<std::string> besides;
  if (no_country.count("private") != 0) {
    besides.emplace_back("private (internal)");
  }
  no_country.erase("private");
  if (!no_country.empty()) {
    besides.emplace_back("unknown");  // the flow picture's name for an address no country was found for
  }
  const auto label = [](std::uint64_t n, std::string_view one, std::string_view many) {
    return std::string(n == 1 ? one : many);
  };
  const auto card = [](std::string_view value, std::string_view label, const char* colour) {
    return fmt::format(R"(<div class="card"><b style="color:{}">{}</b><span>{}</span></div>)", colour, value,
                       label);
  };
  std::string out = R"(<section id="summary"><h2>The period at a glance</h2><div class="cards">)";
  out += card(num(r.outcomes.total()), label(r.outcomes.total(), "request", "requests"), "var(--ink)");
  out += card(num(r.outcomes.permitted), "permitted, " + percent(r.outcomes.permitted, r.outcomes.total()),
              colour_permitted);
  out += card(num(r.outcomes.denied),
              "denied by the policy, " + percent(r.outcomes.denied, r.outcomes.total()), colour_denied);
  out += card(num(r.outcomes.failed), "failed, " + percent(r.outcomes.failed, r.outcomes.total()),
              colour_failed);
  out += card(
      num(clients.size()),
      label(clients.size(), "client country", "client countries") +
          (besides.empty() ? std::string() : fmt::format(", plus {} addresses", fmt::join(besides, " and "))),
      "var(--ink)");
  out += card(num(r.evidence.size()), label(r.evidence.size(), "cluster that served", "clusters that served"),
              "var(--ink)");
  // Callers no key identified share one tenant name: they are not a customer, so not counted as one.
  const std::size_t tenants = r.identified_tenants();
  out += card(num(tenants),
              label(tenants, "tenant", "tenants") +
                  (tenants < r.tenants.size() ? ", plus unidentified callers" : std::string()),
              "var(--ink)");
  out += "</div>";
  if (r.synthetic_in_period > 0) {
    out += fmt::format(
        R"(<p class="note warn">{} synthetic {} in the period, not gateway traffic: written by )"
        "<code>sovgw audit append --synthetic</code> (their note says so), they are left out of every "
        "figure of this report.</p>",
        num(r.synthetic_in_period), plural(r.synthetic_in_period, "record", "records"));
  }
  return out + "</section>";
}

// --- the flow picture ---------------------------------------------------------------------

struct flow_node {
  std::string label;
  std::uint64_t total = 0;
  double y = 0;
  double height = 0;
  double offset = 0;  // where the next band attaches
};

// The `limit` largest keys by total keep their own node; the rest share one "other" node. `last`
// keys (refused, not served) always keep theirs and come last.
std::vector<flow_node> pick_nodes(const std::map<std::string, std::uint64_t>& totals, std::size_t limit,
                                  std::map<std::string, std::size_t>& index_of,
                                  const std::vector<std::string>& last = {}) {
  std::vector<std::pair<std::string, std::uint64_t>> ranked;
  for (const auto& [key, total] : totals) {
    if (std::find(last.begin(), last.end(), key) == last.end()) {
      ranked.emplace_back(key, total);
    }
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<flow_node> nodes;
  std::uint64_t other = 0;
  std::size_t others = 0;
  for (const auto& [key, total] : ranked) {
    if (nodes.size() < limit) {
      index_of[key] = nodes.size();
      nodes.push_back({key, total});
    } else {
      other += total;
      ++others;
    }
  }
  const std::size_t other_index = nodes.size();
  if (others > 0) {
    nodes.push_back({fmt::format("{} other", others), other});
  }
  for (const auto& [key, total] : ranked) {
    if (index_of.find(key) == index_of.end()) {
      index_of[key] = other_index;
    }
  }
  for (const auto& key : last) {
    if (auto it = totals.find(key); it != totals.end()) {
      index_of[key] = nodes.size();
      nodes.push_back({key, it->second});
    }
  }
  return nodes;
}

// A band's colour and legend text, by data-class slot.
struct band_style {
  std::string label;
  const char* colour;
};

std::string flow_svg(const audit::report& r, const std::vector<band_style>& styles,
                     const std::map<std::string, std::size_t>& class_index) {
  std::map<std::string, std::uint64_t> left_totals;
  std::map<std::string, std::uint64_t> right_totals;
  for (const auto& f : r.flows) {
    left_totals[f.client_country] += f.requests;
    right_totals[f.destination] += f.requests;
  }
  std::map<std::string, std::size_t> li;
  std::map<std::string, std::size_t> ri;
  auto left = pick_nodes(left_totals, 11, li);
  auto right =
      pick_nodes(right_totals, 9, ri,
                 {audit::destination_gateway, audit::destination_refused, audit::destination_not_served});
  // (left, right, class) -> requests, in drawing order.
  std::map<std::tuple<std::size_t, std::size_t, std::size_t>, std::uint64_t> bands;
  for (const auto& f : r.flows) {
    bands[{li.at(f.client_country), ri.at(f.destination), class_index.at(f.data_classes)}] += f.requests;
  }
  const double width = 960;
  const double node_w = 14;
  const double x_left = 150;
  const double x_right = width - 150 - node_w;
  const double gap = 10;
  const std::size_t rows = std::max(left.size(), right.size());
  const double area = std::max(240.0, 34.0 * static_cast<double>(rows));
  const double height = area + 28;
  const auto total = static_cast<double>(r.outcomes.total());
  const double scale = std::min((area - gap * static_cast<double>(left.size() - 1)) / total,
                                (area - gap * static_cast<double>(right.size() - 1)) / total);
  const auto place = [&](std::vector<flow_node>& nodes) {
    double used = 0;
    for (const auto& n : nodes) {
      used += static_cast<double>(n.total) * scale;
    }
    double y = 10 + (area - used - gap * static_cast<double>(nodes.size() - 1)) / 2;
    for (auto& n : nodes) {
      n.y = y;
      n.height = static_cast<double>(n.total) * scale;
      n.offset = y;
      y += n.height + gap;
    }
  };
  place(left);
  place(right);
  std::string out = fmt::format(
      R"(<svg viewBox="0 0 {} {}" role="img" aria-label="Requests from client countries to cluster countries, by data class">)",
      width, height);
  // Right-side attachment in (left, class) order so that bands do not cross inside a node.
  std::map<std::tuple<std::size_t, std::size_t, std::size_t>, double> right_y;
  for (std::size_t j = 0; j < right.size(); ++j) {
    for (const auto& [key, n] : bands) {
      if (std::get<1>(key) == j) {
        right_y[key] = right[j].offset;
        right[j].offset += static_cast<double>(n) * scale;
      }
    }
  }
  const double mid = (x_left + node_w + x_right) / 2;
  for (const auto& [key, n] : bands) {
    const auto [i, j, k] = key;
    const double h = static_cast<double>(n) * scale;
    const double y0 = left[i].offset;
    left[i].offset += h;
    const double y1 = right_y[key];
    const double x0 = x_left + node_w;
    const band_style& band = styles[k];
    out += fmt::format(
        R"(<path d="M{x0:.1f},{y0:.2f} C{m:.1f},{y0:.2f} {m:.1f},{y1:.2f} {x1:.1f},{y1:.2f} L{x1:.1f},{y1h:.2f} C{m:.1f},{y1h:.2f} {m:.1f},{y0h:.2f} {x0:.1f},{y0h:.2f} Z" fill="{c}" fill-opacity="0.55" stroke="{c}" stroke-opacity="0.8" stroke-width="0.3"><title>{l} &#8594; {r}, {k}: {n} request{s}</title></path>)",
        fmt::arg("x0", x0), fmt::arg("y0", y0), fmt::arg("m", mid), fmt::arg("y1", y1),
        fmt::arg("x1", x_right), fmt::arg("y1h", y1 + h), fmt::arg("y0h", y0 + h), fmt::arg("c", band.colour),
        fmt::arg("l", esc(left[i].label)), fmt::arg("r", esc(right[j].label)), fmt::arg("k", esc(band.label)),
        fmt::arg("n", num(n)), fmt::arg("s", n == 1 ? "" : "s"));
  }
  const auto node = [&](const flow_node& n, double x, bool on_left) {
    const bool refused = n.label == audit::destination_refused;
    const bool unserved = n.label == audit::destination_not_served;
    const bool gateway = n.label == audit::destination_gateway;
    const char* fill = refused    ? colour_denied
                       : unserved ? colour_failed
                       : gateway  ? colour_gateway
                                  : "#33414f";
    const double cy = n.y + n.height / 2 + 4;
    out += fmt::format(R"(<rect x="{:.1f}" y="{:.2f}" width="{}" height="{:.2f}" fill="{}"/>)", x, n.y,
                       node_w, std::max(n.height, 1.0), fill);
    if (on_left) {
      out += fmt::format(
          R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end">{} <tspan class="m">{}</tspan></text>)", x - 8, cy,
          esc(n.label), num(n.total));
    } else {
      out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}"{}>{} <tspan class="m">{}</tspan></text>)",
                         x + node_w + 8, cy, refused ? R"( style="fill:#c62828;font-weight:600")" : "",
                         esc(n.label), num(n.total));
    }
  };
  for (const auto& n : left) {
    node(n, x_left, true);
  }
  for (const auto& n : right) {
    node(n, x_right, false);
  }
  out += fmt::format(R"(<text x="{}" y="{}" class="m" text-anchor="middle">client countries</text>)", x_left,
                     height - 2);
  out += fmt::format(R"(<text x="{}" y="{}" class="m" text-anchor="middle">cluster countries</text>)",
                     x_right + node_w, height - 2);
  out += "</svg>";
  return out;
}

std::string flows_section(const audit::report& r) {
  std::string out = R"(<section id="flows"><h2>Where requests came from, and where they were served</h2>)";
  if (r.outcomes.total() == 0) {
    return out + R"(<p class="nr">No requests in this period.</p></section>)";
  }
  // Data classes by requests: the six largest keep a colour of their own, the rest share grey
  // with the requests that carry none.
  std::map<std::string, std::uint64_t> class_totals;
  for (const auto& f : r.flows) {
    class_totals[f.data_classes] += f.requests;
  }
  std::vector<std::pair<std::string, std::uint64_t>> ranked;
  for (const auto& [name, total] : class_totals) {
    if (!name.empty()) {
      ranked.emplace_back(name, total);
    }
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<band_style> styles;
  std::map<std::string, std::size_t> class_index;
  std::uint64_t other_classes = 0;
  for (const auto& [name, total] : ranked) {
    if (styles.size() < class_colours.size()) {
      class_index[name] = styles.size();
      styles.push_back({name, class_colours[styles.size()]});
    } else {
      other_classes += total;
    }
  }
  const std::size_t colourful = styles.size();
  styles.push_back({"other classes", colour_unclassified});
  styles.push_back({"no data class", colour_unclassified});
  for (const auto& [name, total] : ranked) {
    class_index.emplace(name, colourful);
  }
  class_index[""] = colourful + 1;
  out += flow_svg(r, styles, class_index);
  out += R"(<div class="legend">)";
  for (std::size_t k = 0; k < colourful; ++k) {
    out += fmt::format(R"(<span><i style="background:{}"></i>{} ({})</span>)", styles[k].colour,
                       esc(styles[k].label), num(class_totals[styles[k].label]));
  }
  if (other_classes > 0) {
    out += fmt::format(R"(<span><i style="background:{}"></i>other classes ({})</span>)", colour_unclassified,
                       num(other_classes));
  }
  if (class_totals.count("") != 0) {
    out += fmt::format(R"(<span><i style="background:{}"></i>no data class ({})</span>)", colour_unclassified,
                       num(class_totals[""]));
  }
  out += fmt::format(R"(<span><i style="background:{}"></i>refused: denied by the policy</span>)",
                     colour_denied);
  out += fmt::format(
      R"(<span><i style="background:{}"></i>not served: failed before anything reached a cluster</span>)",
      colour_failed);
  out += fmt::format(
      R"(<span><i style="background:{}"></i>answered by the gateway: permitted, no cluster needed (such as the model list)</span>)",
      colour_gateway);
  out += "</div>";
  out +=
      R"(<table><tr><th>client country</th><th>served in</th><th>data classes</th><th class="n">requests</th></tr>)";
  std::size_t shown = 0;
  for (const auto& f : r.flows) {
    if (++shown > max_flow_rows) {
      break;
    }
    const bool refused = f.destination == audit::destination_refused;
    out += fmt::format(R"(<tr><td>{}</td><td{}>{}</td><td>{}</td><td class="n">{}</td></tr>)",
                       esc(f.client_country), refused ? R"( class="bad")" : "", esc(f.destination),
                       esc(class_label(f.data_classes)), num(f.requests));
  }
  return out + "</table>" + capped_note(max_flow_rows, r.flows.size(), "flows") + "</section>";
}

// --- decisions over time ------------------------------------------------------------------

std::string series_svg(const audit::report& r) {
  const double width = 960;
  const double height = 220;
  const double left = 56;
  const double top = 10;
  const double plot_w = width - left - 10;
  const double plot_h = height - top - 36;
  std::uint64_t max_total = 1;
  for (const auto& b : r.series) {
    max_total = std::max(max_total, b.outcomes.total());
  }
  std::string out = fmt::format(
      R"(<svg viewBox="0 0 {} {}" role="img" aria-label="Requests permitted, denied and failed over time">)",
      width, height);
  for (int t = 0; t <= 2; ++t) {
    const double y = top + plot_h - plot_h * t / 2;
    out += fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#d8dde3"/>)", left,
                       width - 10, y, y);
    out += fmt::format(R"(<text x="{}" y="{:.1f}" text-anchor="end" class="m">{}</text>)", left - 6, y + 4,
                       num(max_total * static_cast<std::uint64_t>(t) / 2));
  }
  const double bar = plot_w / static_cast<double>(r.series.size());
  const double pad = bar > 4 ? 1 : 0;
  for (std::size_t i = 0; i < r.series.size(); ++i) {
    const auto& b = r.series[i];
    double y = top + plot_h;
    const double x = left + bar * static_cast<double>(i);
    const std::array<std::pair<std::uint64_t, const char*>, 3> parts = {
        {{b.outcomes.permitted, colour_permitted},
         {b.outcomes.failed, colour_failed},
         {b.outcomes.denied, colour_denied}}};
    for (const auto& [count, colour] : parts) {
      if (count == 0) {
        continue;
      }
      const double h = plot_h * static_cast<double>(count) / static_cast<double>(max_total);
      y -= h;
      out += fmt::format(R"(<rect x="{:.2f}" y="{:.2f}" width="{:.2f}" height="{:.2f}" fill="{}"/>)",
                         x + pad / 2, y, std::max(bar - pad, 0.5), h, colour);
    }
    out += fmt::format(
        R"(<rect x="{:.2f}" y="{}" width="{:.2f}" height="{}" fill="transparent"><title>{}: {} permitted, {} denied, {} failed</title></rect>)",
        x, top, bar, plot_h, when(b.start_us), num(b.outcomes.permitted), num(b.outcomes.denied),
        num(b.outcomes.failed));
  }
  const double axis_y = top + plot_h + 18;
  out += fmt::format(R"(<text x="{}" y="{}" class="m">{}</text>)", left, axis_y,
                     when(r.series.front().start_us));
  out += fmt::format(R"(<text x="{}" y="{}" class="m" text-anchor="end">{}</text>)", width - 10, axis_y,
                     when(r.series.back().start_us + r.bucket_us));
  out += fmt::format(R"(<text x="{}" y="{}" class="m" text-anchor="middle">each bar: {}</text>)",
                     left + plot_w / 2, axis_y, bucket_label(r.bucket_us));
  return out + "</svg>";
}

std::string decisions_section(const audit::report& r) {
  std::string out = R"(<section id="decisions"><h2>Decisions over time</h2>)";
  if (r.series.empty()) {
    return out + R"(<p class="nr">No requests in this period.</p></section>)";
  }
  out += series_svg(r);
  out += fmt::format(
      R"(<div class="legend"><span><i style="background:{}"></i>permitted ({})</span><span><i style="background:{}"></i>denied by the policy ({})</span><span><i style="background:{}"></i>failed ({})</span></div>)",
      colour_permitted, num(r.outcomes.permitted), colour_denied, num(r.outcomes.denied), colour_failed,
      num(r.outcomes.failed));
  if (r.since_us || r.until_us) {
    // Said, not only drawn: bars at the period's ends without a request are a finding (a gateway
    // down?), not a chart that starts late (probe round 39).
    out += fmt::format(
        R"(<p class="note">The axis spans the period asked for ({}), not only the requests in it: a bar )"
        "without colour is a stretch of {} without any request.</p>",
        r.since_us && r.until_us
            ? fmt::format("from {} to {}{}", exact_time(*r.since_us), exact_time(*r.until_us),
                          r.until_us > r.series.back().start_us + r.bucket_us ? ", drawn up to now" : "")
        : r.since_us
            ? fmt::format("from {} to its last request", exact_time(*r.since_us))
            : fmt::format("from its first request to {}{}", exact_time(*r.until_us),
                          r.until_us > r.series.back().start_us + r.bucket_us ? ", drawn up to now" : ""),
        bucket_label(r.bucket_us));
  }
  return out + "</section>";
}

std::string rules_section(const audit::report& r, const report_context& c) {
  // Without the policy file the records tell which rules matched a denied request, not which
  // denied it (a restrict or permit rule that matched is named too): not called denials then.
  const bool blind = c.policy_file.empty();
  std::string out = blind ? R"(<section id="denials-by-rule"><h2>Rules named by denied requests</h2>)"
                          : R"(<section id="denials-by-rule"><h2>Denials by rule</h2>)";
  if (r.outcomes.denied == 0) {
    return out + R"(<p class="nr">No request was denied in this period.</p></section>)";
  }
  if (blind) {
    out += R"(<p class="note warn">Without <code>--policy</code> this report cannot tell which rule denied )"
           "a request: each denial counts under every rule its record names, the permits and restrictions "
           "that matched it included, so a rule listed here may have denied nothing. Give the policy file "
           "(<code>--policy FILE</code>) to count each denial under the rules that made it.</p>";
  }
  out += R"(<table><tr><th>rule</th><th>effect</th><th class="n">denials</th><th style="width:16%"></th>)"
         R"(<th>reason</th><th>last denial</th></tr>)";
  const auto share = [&](std::uint64_t n) {
    return 100.0 * static_cast<double>(n) / static_cast<double>(r.outcomes.denied);
  };
  for (const auto& rule : r.denials_by_rule) {
    const auto reason = c.rule_reasons.find(rule.rule_id);
    const auto effect = c.rule_effects.find(rule.rule_id);
    // The given file's reason is its version's: under another version the rule may have said
    // something else, so it is shown as the given version's words.
    const std::string reason_html =
        reason == c.rule_reasons.end()
            ? (c.policy_file.empty()
                   ? R"(<span class="nr">give --policy to show the rule's reason</span>)"
                   : R"(<span class="nr">not a rule of the policy given with --policy</span>)")
        : rule.by_given_policy
            ? esc(reason->second)
            : fmt::format(
                  R"({} <span class="nr">(its reason in the version given with --policy; the denials )"
                  R"(were decided under another)</span>)",
                  esc(reason->second));
    const std::string effect_html =
        effect == c.rule_effects.end()
            ? (c.policy_file.empty() ? std::string(R"(<span class="nr">unknown (give --policy)</span>)")
                                     : R"(<span class="nr">unknown (not in --policy)</span>)")
        : rule.by_given_policy ? esc(effect->second)
                               : R"(<span class="nr">unknown (decided under another policy version)</span>)";
    out += fmt::format(
        R"(<tr><td><code>{}</code></td><td>{}</td><td class="n">{}</td><td><div class="bar" style="width:{:.1f}%"></div></td><td>{}</td><td>{}</td></tr>)",
        esc(rule.rule_id), effect_html, num(rule.denials), share(rule.denials), reason_html,
        when(rule.last_us));
  }
  if (r.default_denials > 0) {
    out += fmt::format(
        R"(<tr><td><i>default deny</i></td><td></td><td class="n">{}</td><td><div class="bar" style="width:{:.1f}%"></div></td><td>no permit rule matched the request</td><td></td></tr>)",
        num(r.default_denials), share(r.default_denials));
  }
  for (const auto& kind : r.denials_by_kind) {
    out += fmt::format(
        R"(<tr><td><i>refused: <code>{}</code></i></td><td></td><td class="n">{}</td><td><div class="bar" style="width:{:.1f}%"></div></td><td>{}</td><td>{}</td></tr>)",
        esc(kind.error_kind), num(kind.denials), share(kind.denials), esc(refusal_reason(kind.error_kind)),
        when(kind.last_us));
  }
  out += "</table>";
  // The footnote says how the counts above were made: under the version given, by the rules that
  // made each denial; under any other (or with no --policy), under every rule a record names.
  std::uint64_t policy_denials = r.outcomes.denied;
  for (const auto& kind : r.denials_by_kind) {
    policy_denials -= std::min(policy_denials, kind.denials);
  }
  constexpr std::string_view by_deciding_rules =
      "the forbid rules its record names; else, when a permit matched, the restrict rules it names, which "
      "together left no allowed cluster; else it is a default deny.";
  const std::string attribution =
      c.policy_file.empty()
          ? std::string(
                "Without --policy a denial counts under every rule its record names (permits and "
                "restrictions included).")
      : r.denials_other_versions == 0
          ? fmt::format("A denial counts under the rules that made it: {}", by_deciding_rules)
      : r.denials_other_versions >= policy_denials
          ? std::string(
                "None of these denials was decided under the policy version given with --policy, so "
                "each counts under every rule its record names (permits and restrictions included).")
          : fmt::format(
                "A denial decided under the policy version given with --policy counts under the rules "
                "that made it: {} One decided under another version counts under every rule its record "
                "names (permits and restrictions included).",
                by_deciding_rules);
  out += fmt::format(R"(<p class="note">{} denied {}. {}</p>)", num(r.outcomes.denied),
                     plural(r.outcomes.denied, "request", "requests"), attribution);
  if (!r.denials_by_kind.empty()) {
    out += R"(<p class="note">A refusal of another kind than <code>policy_denied</code> (such as )"
           R"(<code>redaction_unsupported</code>) counts on a line of its own: the policy left an allowed )"
           "cluster, so the rules its record names matched the request but did not refuse it.</p>";
  }
  if (r.denials_other_versions > 0) {
    out += fmt::format(
        R"(<p class="note warn">{} of the denials were decided under another policy version than <code>{}</code> )"
        "(see Policy versions in force): the file given cannot say what those rules did, so each of these "
        "denials counts under every rule its record names, with its effect unknown.</p>",
        num(r.denials_other_versions), esc(c.policy_file));
  }
  return out + "</section>";
}

std::string policies_section(const audit::report& r, const report_context& c) {
  std::string out = R"(<section id="policies"><h2>Policy versions in force</h2>)";
  if (r.policy_versions.empty()) {
    return out + R"(<p class="nr">No requests in this period.</p></section>)";
  }
  out +=
      R"(<table><tr><th>policy version (SHA-256 of the policy file)</th><th>first decision</th><th>last decision</th><th class="n">requests</th></tr>)";
  for (const auto& v : r.policy_versions) {
    std::string name;
    if (v.version.empty()) {
      name =
          R"(<span class="nr">none: requests that ended before a policy decided, or ran without one</span>)";
    } else {
      name = fmt::format(R"(<code title="{}">{}</code>)", esc(v.version), esc(v.version.substr(0, 16)));
      if (v.version == c.policy_version) {
        name += fmt::format(" = <code>{}</code>", esc(c.policy_file));
      }
      if (v.periods > 1) {
        // First and last decision then span another version's requests: not one period in force.
        name += fmt::format(
            R"( <span class="warn">in force {} separate times: another version decided requests in between</span>)",
            num(v.periods));
      }
    }
    out += fmt::format(R"(<tr><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td></tr>)", name,
                       when(v.first_us), when(v.last_us), num(v.requests));
  }
  out += "</table>";
  if (!c.policy_file.empty()) {
    out += fmt::format(R"(<p class="note">Reasons come from <code>{}</code> (version <code>{}</code>).</p>)",
                       esc(c.policy_file), esc(c.policy_version.substr(0, 16)));
    std::uint64_t other = 0;
    for (const auto& v : r.policy_versions) {
      other += !v.version.empty() && v.version != c.policy_version ? v.requests : 0;
    }
    if (other > 0) {
      out += fmt::format(
          R"(<p class="note warn">{} {} decided under another policy version than <code>{}</code>: )"
          "its rules' effects are used only for the requests of its own version.</p>",
          num(other), other == 1 ? "request was" : "requests were", esc(c.policy_file));
    }
  }
  return out + "</section>";
}

// A token total, and the part of it the gateway estimated (audit::tenant_usage).
std::string with_estimate(std::uint64_t total, std::uint64_t estimated, const audit::tenant_usage& t) {
  return t.estimated_requests == 0
             ? num(total)
             : fmt::format(R"({}<br><span class="warn">~{} estimated</span>)", num(total), num(estimated));
}

// The row of the tenant the gateway records when no key or certificate identified the caller: named
// for what it holds, so that a reader does not take it for a customer called "default".
std::string unidentified_callers() {
  return fmt::format(
      R"(<i>unidentified callers</i> (<code>{}</code>: no API key or certificate identified them))",
      esc(audit::unidentified_tenant));
}

std::string tenants_section(const audit::report& r) {
  std::string out = R"(<section id="tenants"><h2>Per tenant</h2>)";
  if (r.tenants.empty()) {
    return out + R"(<p class="nr">No requests in this period.</p></section>)";
  }
  std::uint64_t tokens = 0;
  for (const auto& t : r.tenants) {
    tokens += t.prompt_tokens + t.completion_tokens;
  }
  out +=
      R"(<table><tr><th>tenant</th><th class="n">requests</th><th class="n">permitted</th><th class="n">denied</th><th class="n">failed</th><th class="n">prompt tokens</th><th class="n">completion tokens</th><th class="n">with data classes</th><th class="n">redactions</th></tr>)";
  std::size_t shown = 0;
  for (const auto& t : r.tenants) {
    if (++shown > max_tenant_rows) {
      break;
    }
    out += fmt::format(
        R"(<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>)",
        t.tenant.empty()                         ? not_recorded()
        : t.tenant == audit::unidentified_tenant ? unidentified_callers()
                                                 : esc(t.tenant),
        num(t.outcomes.total()), num(t.outcomes.permitted), num(t.outcomes.denied), num(t.outcomes.failed),
        tokens == 0 ? not_recorded() : with_estimate(t.prompt_tokens, t.estimated_prompt_tokens, t),
        tokens == 0 ? not_recorded() : with_estimate(t.completion_tokens, t.estimated_completion_tokens, t),
        num(t.classified), t.redactions ? num(*t.redactions) : not_recorded());
  }
  out += "</table>" + capped_note(max_tenant_rows, r.tenants.size(), "tenants");
  std::uint64_t estimated = 0;
  for (const auto& t : r.tenants) {
    estimated += t.estimated_requests;
  }
  if (estimated > 0) {
    out += fmt::format(
        R"(<p class="note warn">Token counts are the clusters' own, except for {} {} whose answer ended )"
        "without the cluster's usage: their tokens are the gateway's estimates, included in the totals and "
        "shown apart as <i>~N estimated</i>.</p>",
        num(estimated), plural(estimated, "request", "requests"));
  }
  return out + "</section>";
}

std::string evidence_section(const audit::report& r) {
  std::string out = R"(<section id="evidence"><h2>Evidence of where compute ran</h2>)";
  if (r.evidence.empty()) {
    return out + R"(<p class="nr">No cluster served a request in this period.</p></section>)";
  }
  out +=
      R"(<table><tr><th>cluster</th><th>declared country</th><th class="n">requests</th><th>first</th><th>last</th><th>endpoints</th><th>verified country</th><th>addresses connected to</th><th>RTT distance bound</th></tr>)";
  for (const auto& e : r.evidence) {
    const auto listed = [](const std::vector<std::string>& items, std::uint64_t more) {
      std::string out = code_list(items, "<br>");
      if (more > 0) {
        out += fmt::format("<br>and {} more", num(more));
      }
      return out.empty() ? not_recorded() : out;
    };
    const std::string endpoints = listed(e.endpoints, e.endpoints_not_listed);
    std::string bound = not_recorded();
    if (e.max_distance_km) {
      bound = fmt::format("within {} km of the gateway", num(*e.max_distance_km));
      if (e.min_distance_km && *e.min_distance_km != *e.max_distance_km) {
        bound += fmt::format(" (tightest {} km)", num(*e.min_distance_km));
      }
      if (e.requests_with_bound != e.requests) {
        bound += fmt::format("; {} of {} requests measured", num(e.requests_with_bound), num(e.requests));
      }
    }
    out += fmt::format(
        R"(<tr><td>{}</td><td>{}</td><td class="n">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>)",
        esc(e.cluster), e.declared_country.empty() ? not_recorded() : esc(e.declared_country),
        num(e.requests), when(e.first_us), when(e.last_us), endpoints,
        e.verified_country ? esc(*e.verified_country) : not_recorded(),
        listed(e.addresses, e.addresses_not_listed), bound);
  }
  out += "</table>";
  out +=
      R"(<p class="note">The declared country is the cluster's configuration. The endpoint is where the request was sent; its country is what the gateway's geo database says of its addresses (<code>private</code>: a loopback or private address of an on-premises cluster). The distance bound comes from the TLS handshake's round trip on the connection the request used (light in fibre: RTT/2 &#215; 200 km/ms): it proves how far at most the holder of the cluster's TLS key was from the gateway, not where the GPUs behind it are. Columns read <i>not recorded</i> for records written before the gateway kept that evidence.</p>)";
  return out + "</section>";
}

std::string recent_denials_section(const audit::report& r, const report_context& c) {
  const std::size_t n = r.recent_denials.size();
  std::string out =
      n <= 1 ? std::string(R"(<section id="recent-denials"><h2>The most recent denials</h2>)")
             : fmt::format(R"(<section id="recent-denials"><h2>The {} most recent denials</h2>)", n);
  if (r.recent_denials.empty()) {
    return out + R"(<p class="nr">No request was denied in this period.</p></section>)";
  }
  out +=
      R"(<table><tr><th>time</th><th>request id</th><th>tenant</th><th>client</th><th>data classes</th><th>rules</th><th class="n">status</th></tr>)";
  for (const auto& d : r.recent_denials) {
    const std::string rules = code_list(d.rule_ids, ", ");
    out += fmt::format(
        R"(<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td></tr>)",
        when(d.timestamp_us), esc(d.request_id), esc(d.tenant),
        d.client_country.empty() ? "unknown" : esc(d.client_country), esc(class_label(d.data_classes)),
        rules.empty() ? R"(<i>default deny</i>)" : rules, d.status);
  }
  out += "</table>";
  const std::string& id = r.recent_denials.front().request_id;
  out += fmt::format(
      R"(<p class="note">Prove any of them offline, e.g. the newest: <code>{}</code> then <code>{}</code></p>)",
      esc_command(fmt::format("sovgw audit prove --db {} --request-id {} > denial.tlog-proof",
                              shell_word(c.db), shell_word(id))),
      esc_command("sovgw audit verify-proof denial.tlog-proof --pubkey " + shell_word(c.pubkey_path)));
  return out + "</section>";
}

}  // namespace

std::string refusal_reason(std::string_view error_kind) {
  if (error_kind == "redaction_unsupported") {
    return "redaction not possible: a redact obligation applied, and what it names is where the gateway "
           "cannot rewrite it (a body that is not JSON, a number, the request target or a header field)";
  }
  return fmt::format("refused as {}, not by a rule", error_kind);
}

std::string report_html(const audit::report& r, const report_context& c) {
  const std::string origin = r.verification.latest ? r.verification.latest->origin : c.key.name;
  // The bounds as `audit query --since/--until` take them and at the precision they count, with
  // which one is in the period (probe round 39: cut to the second, the printed period held records
  // the figures leave out).
  std::string period =
      r.since_us || r.until_us
          ? fmt::format("from {} to {}",
                        r.since_us ? exact_time(*r.since_us) + " (inclusive)" : "the start of the log",
                        r.until_us ? exact_time(*r.until_us) + " (exclusive)" : "the end of the log")
          : "the whole log";
  if (r.first_us) {
    period += fmt::format(" (records from {} to {})", exact_time(*r.first_us), exact_time(*r.last_us));
  }
  std::string out = fmt::format(
      R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sovereignty report: {}</title>
<style>{}</style></head><body>
<header><h1>Sovereignty report</h1><p class="sub">Audit log <b>{}</b> at <code>{}</code><br>Period: {}<br>Generated {} by <code>sovgw audit report</code></p></header>
)",
      esc(origin), style, esc(origin), esc(c.db), esc(period), when(c.generated_us));
  out += verification_section(r, c);
  out += summary_section(r);
  out += flows_section(r);
  out += decisions_section(r);
  out += rules_section(r, c);
  out += policies_section(r, c);
  out += tenants_section(r);
  out += evidence_section(r);
  out += recent_denials_section(r, c);
  out +=
      R"(<footer>Every figure comes from the records of the audit log, counted in the same pass that verified them. Request and record details: <code>sovgw audit query</code>; a request's inclusion proof: <code>sovgw audit prove</code>.</footer>
</body></html>
)";
  return out;
}

}  // namespace sovgw::cli
