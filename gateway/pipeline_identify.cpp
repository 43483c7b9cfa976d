// The pipeline's first stages, kept apart from pipeline.cpp: who is calling (identify: client
// certificate, API key, client address and country) and whether their limits admit the request
// (admit), plus the tenants file's reload and the usage accounting that charges the limits.
#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "classify/unescape.hpp"
#include "common/ascii.hpp"
#include "gateway/client_address.hpp"
#include "gateway/idempotency_key.hpp"
#include "gateway/log.hpp"
#include "gateway/metrics.hpp"
#include "gateway/pipeline.hpp"
#include "gateway/usage_meter.hpp"
#include "policy/countries.hpp"
#include "policy/ip_address.hpp"

namespace sovgw::gateway {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An estimate of a request's tokens (the client hung up, the cluster reported none) is the
// gateway's guess, and a client that hangs up chooses when its request ends: it is charged no more
// than the tightest monthly budget of its scopes had left when it was admitted (probe round 37: a
// key limited to 400 tokens spent its tenant's 2000 by leaving a request with max_tokens 100000).
// The counts the cluster reported stay; the estimated ones give way, the completion's first.
void cap_estimate(request_context& ctx, std::uint64_t left) {
  if (ctx.prompt_tokens + ctx.completion_tokens <= left) {
    return;
  }
  if (!ctx.completion_reported) {
    ctx.completion_tokens = left - std::min(left, ctx.prompt_tokens);
  }
  if (!ctx.prompt_reported) {
    ctx.prompt_tokens = std::min(ctx.prompt_tokens, left - std::min(left, ctx.completion_tokens));
  }
}

// The scopes whose limits count this request (admit chose them).
tenants::limit_target limit_target_of(const request_context& ctx) {
  return {ctx.tenant, ctx.key_limited ? std::string_view(ctx.key_id) : std::string_view(), ctx.model_rule};
}

}  // namespace

void pipeline::account(request_context& ctx) const {
  if (ctx.reads_stored_usage()) {
    // Nothing was generated for a read: an estimate (from its size) is no cost at all, and the
    // usage the cluster reports is the stored response's, charged when it was generated (probe
    // round 37: each GET of a background response charged its 2000 tokens again). Recorded as
    // reported, and said so.
    if (ctx.usage_estimated) {
      ctx.usage_estimated = ctx.prompt_reported = ctx.completion_reported = false;
      ctx.prompt_tokens = ctx.completion_tokens = 0;
    }
    ctx.reservation = tenants::limiter::reservation();  // released, and nothing learnt from it
    return;
  }
  if (!cfg_->tenants_file.empty()) {
    if (ctx.usage_estimated) {
      cap_estimate(ctx, ctx.reservation.month_left());
    }
    limiter_.charge(ctx.reservation, ctx.prompt_tokens + ctx.completion_tokens, now_ms(),
                    ctx.completion_tokens);
  }
}

void pipeline::render_budgets(std::string& out) const {
  const std::shared_ptr<const tenants::table> table = tenants_.load();
  if (!table) {
    return;
  }
  const std::int64_t now = now_ms();
  auto back = std::back_inserter(out);
  out +=
      "# HELP sovgw_tenant_budget_remaining_tokens Tokens left this calendar month (tenants with "
      "tokens_per_month).\n# TYPE sovgw_tenant_budget_remaining_tokens gauge\n";
  for (const tenants::tenant& t : table->tenants()) {
    if (const std::optional<std::uint64_t> left = limiter_.month_left(t.name, now)) {
      fmt::format_to(back, "sovgw_tenant_budget_remaining_tokens{{tenant=\"{}\"}} {}\n", t.name, *left);
    }
  }
  out +=
      "# HELP sovgw_key_budget_remaining_tokens Tokens left this calendar month (API keys with their own "
      "tokens_per_month).\n# TYPE sovgw_key_budget_remaining_tokens gauge\n";
  for (const tenants::api_key& k : table->keys()) {
    if (const std::optional<std::uint64_t> left =
            limiter_.month_left({k.tenant, k.id, {}}, tenants::limit_scope::key, now)) {
      fmt::format_to(back, "sovgw_key_budget_remaining_tokens{{tenant=\"{}\",key=\"{}\"}} {}\n", k.tenant,
                     k.id, *left);
    }
  }
  out +=
      "# HELP sovgw_model_budget_remaining_tokens Tokens left this calendar month (model_limits rules with "
      "tokens_per_month; models: the rule's pattern).\n# TYPE sovgw_model_budget_remaining_tokens gauge\n";
  for (const tenants::tenant& t : table->tenants()) {
    for (const tenants::model_limit& m : t.model_limits) {
      if (const std::optional<std::uint64_t> left =
              limiter_.month_left({t.name, {}, m.model.text()}, tenants::limit_scope::model, now)) {
        fmt::format_to(back, "sovgw_model_budget_remaining_tokens{{tenant=\"{}\",models=\"{}\"}} {}\n",
                       t.name, metric_label(m.model.text()), *left);
      }
    }
  }
}

std::string pipeline::reload_tenants() {
  std::string errors;
  if (std::shared_ptr<const tenants::table> table = load_tenants(errors)) {
    use_tenants(std::move(table));
  }
  return errors;
}

std::size_t pipeline::apply_revocations(std::span<const tenants::api_key> next) {
  const std::shared_ptr<const tenants::table> live = tenants_.load();
  if (!live) {
    return 0;
  }
  const std::int64_t now = now_ms() / 1000;
  // A key is its hash: an entry whose id has a typo is still its key's. An entry whose hash cannot
  // be read (zero, tenants::load_result) is its key's by id: damaged, not removed.
  std::unordered_map<std::string_view, const tenants::api_key*> by_id;
  std::map<tenants::key_hash, const tenants::api_key*> by_hash;
  for (const tenants::api_key& n : next) {
    if (n.hash == tenants::key_hash{}) {
      by_id.emplace(n.id, &n);
    } else {
      by_hash.emplace(n.hash, &n);
    }
  }
  std::vector<tenants::api_key> keys(live->keys());
  std::size_t changed = 0;
  for (tenants::api_key& k : keys) {
    const auto hashed = by_hash.find(k.hash);
    const auto damaged = by_id.find(k.id);
    const tenants::api_key* in_next = hashed != by_hash.end()  ? hashed->second
                                      : damaged != by_id.end() ? damaged->second
                                                               : nullptr;
    std::int64_t revoked = k.revoked;
    std::int64_t expires = k.expires;
    if (in_next == nullptr) {
      revoked = revoked != 0 ? revoked : now;  // removed from the file: no longer a key
    } else if (in_next->tenant != k.tenant) {
      // Moved to another tenant (or its tenant unreadable): it acts for neither until a file that
      // loads places it, as a moved certificate subject (probe round 44: it kept serving as the
      // old tenant, with its policy rules, limits and audit data key, when another line was wrong).
      revoked = revoked != 0 ? revoked : now;
    } else {
      revoked = revoked != 0 ? revoked : in_next->revoked;
      if (in_next->expires != 0 && (expires == 0 || in_next->expires < expires)) {
        expires = in_next->expires;
      }
    }
    if (revoked != k.revoked || expires != k.expires) {
      k.revoked = revoked;
      k.expires = expires;
      ++changed;
    }
  }
  if (changed != 0) {
    use_tenants(std::make_shared<const tenants::table>(std::vector<tenants::tenant>(live->tenants()),
                                                       std::move(keys)));
  }
  return changed;
}

std::size_t pipeline::apply_certificate_removals(const std::vector<tenants::tenant>& next) {
  const std::shared_ptr<const tenants::table> live = tenants_.load();
  if (!live) {
    return 0;
  }
  std::size_t removed = 0;
  std::vector<tenants::tenant> kept = tenants::without_unlisted_certificates(live->tenants(), next, removed);
  if (removed != 0) {
    use_tenants(
        std::make_shared<const tenants::table>(std::move(kept), std::vector<tenants::api_key>(live->keys())));
  }
  return removed;
}

void pipeline::use_tenants(std::shared_ptr<const tenants::table> table) {
  limiter_.configure(*table, now_ms());
  tenants_.store(std::move(table));
}

std::shared_ptr<const tenants::table> pipeline::load_tenants(
    std::string& errors, std::optional<std::vector<tenants::api_key>>* readable,
    std::optional<std::vector<tenants::tenant>>* readable_tenants) const {
  if (cfg_->tenants_file.empty()) {
    return nullptr;
  }
  // Parsing a large file allocates ~100 MiB of YAML nodes for 10,000 tenants and keys, interleaved
  // with the table it builds: freed, they would leave the table's few MiB scattered over pages
  // malloc_trim cannot return (62 MiB of RSS where 10 MiB are in use). So the file is parsed on a
  // thread of its own (glibc gives it an arena of its own), the table is copied here, compactly,
  // and the scratch arena is emptied and handed back whole.
  tenants::load_result r;
  std::thread([&] { r = tenants::load_tenants_file(cfg_->tenants_file); }).join();
  if (!r.ok()) {
    errors = policy::format_diagnostics(std::move(r.diagnostics));
    if (readable != nullptr) {
      *readable = std::move(r.readable_keys);
    }
    if (readable_tenants != nullptr) {
      *readable_tenants = std::move(r.readable_tenants);
    }
    return nullptr;
  }
  for (const policy::diagnostic& d : r.diagnostics) {  // warnings: loaded all the same
    log_line("warn", "tenants file").str("warning", d.format()).emit();
  }
  auto copy = std::make_shared<const tenants::table>(std::vector<tenants::tenant>(r.tenants->tenants()),
                                                     std::vector<tenants::api_key>(r.tenants->keys()));
  r = {};
  ::malloc_trim(0);
  return copy;
}

namespace {

stage_result refused_key(std::string message) {
  return stage_result::respond(outcome::invalid_api_key, std::move(message));
}

// Whether `text` holds what looks like a tenant key, in any letter case: its scheme (sk-sovgw-)
// starting a word, then at least 8 of the key's characters (a key cut short still gives most of
// its secret away). "ask-sovgw-team" or a question about what "sk-sovgw-" means holds none.
bool holds_key_scheme(std::string_view text) {
  constexpr std::string_view scheme = tenants::key_scheme;
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  const auto key_char = [&](char c) { return alnum(c) || c == '-' || c == '_'; };
  for (std::size_t at = text.find_first_of("sS");
       at != std::string_view::npos && at + scheme.size() <= text.size();
       at = text.find_first_of("sS", at + 1)) {
    if ((at > 0 && alnum(text[at - 1])) || !ascii_iequals(text.substr(at, scheme.size()), scheme)) {
      continue;
    }
    std::size_t n = 0;
    while (at + scheme.size() + n < text.size() && n < 8 && key_char(text[at + scheme.size() + n])) {
      ++n;
    }
    if (n == 8) {
      return true;
    }
  }
  return false;
}

// The same, also in `text` decoded the way its reader decodes it (`forms`): a query's
// `?k=sk%2Dsovgw%2D...`, a header's `SK-SOVGW-...`, a body's `sk\u002dsovgw\u002d...`.
bool holds_key(std::string_view text, std::uint8_t forms) {
  if (holds_key_scheme(text)) {
    return true;
  }
  static thread_local classify::unescaped_text decoded;
  return classify::unescape(text, forms, decoded) && holds_key_scheme(decoded.text);
}

// Whether a tenant key is in the request target or in a header field the gateway forwards (its
// name or its value): they reach the cluster as sent, and the key with them (into its logs).
// Any key, the caller's or another's. The body's turn comes once it is read (identify_body).
bool key_outside_authorization(const http::message_head& head) {
  using enum classify::unescape_forms;
  if (holds_key(head.target, percent_encoding | plus_as_space)) {
    return true;
  }
  for (const http::field& f : head.fields) {
    if (!http::never_forwarded(f.id) &&
        (holds_key(f.value, percent_encoding) || holds_key(f.name, percent_encoding))) {
      return true;
    }
  }
  return false;
}

// A client's Idempotency-Key reaches the cluster scoped to its tenant
// (geo_tagger::scoped_idempotency_key), which keeps one key one key only for a bare key or an
// sf-string: an empty one would become a key all the tenant's requests share, and a list's other
// members, or the string a cluster pulls out of a value it reads otherwise, would reach it unscoped
// (another tenant's stored answer for the same key; probe round 42).
stage_result check_idempotency_key(const http::message_head& head) {
  bool seen = false;
  for (const http::field& f : head.fields) {
    if (f.id != http::field_id::idempotency_key) {
      continue;
    }
    const http::idempotency_key_form form =
        seen ? http::idempotency_key_form::list : http::read_idempotency_key(f.value);
    seen = true;
    if (form != http::idempotency_key_form::raw && form != http::idempotency_key_form::sf_string) {
      return stage_result::respond(
          outcome::invalid_idempotency_key,
          fmt::format("the Idempotency-Key field cannot be forwarded: {}; send one key, as a string "
                      "(\"8e03978e-40d5\") or as a bare key (8e03978e-40d5)",
                      http::idempotency_key_problem(form)));
    }
  }
  return stage_result::next();
}

stage_result key_sent_outside_authorization() {
  return stage_result::respond(outcome::bad_request,
                               "an API key (sk-sovgw-...) in the URL, in a header field other than "
                               "Authorization or in the body would reach the cluster; send it only as "
                               "'Authorization: Bearer <API key>'");
}

// The API key a request presents: the bearer token of its Authorization field (the OpenAI SDKs),
// or the value of X-Api-Key (the Anthropic SDK) or Api-Key (the Azure OpenAI SDK). Empty without
// any; nullopt, with the reason in `why`, when a field is repeated, Authorization is not
// `Bearer <token>`, or two of them name different keys (which one the gateway checked would be a
// guess).
std::optional<std::string_view> presented_key(const http::message_head& head, std::string& why) {
  std::optional<std::string_view> token = std::string_view();
  bool seen[3] = {false, false, false};
  static constexpr std::string_view names[] = {"Authorization", "X-Api-Key", "Api-Key"};
  for (const http::field& f : head.fields) {
    const int which = f.id == http::field_id::authorization ? 0
                      : f.id == http::field_id::x_api_key   ? 1
                      : f.id == http::field_id::api_key     ? 2
                                                            : -1;
    if (which < 0) {
      continue;
    }
    if (seen[which]) {
      why = fmt::format("the request sends {} twice", names[which]);
      return std::nullopt;
    }
    seen[which] = true;
    std::string_view t = f.value;
    if (which == 0) {
      constexpr std::string_view scheme = "bearer ";
      if (t.size() <= scheme.size() || !http::iequals(t.substr(0, scheme.size()), scheme)) {
        const std::string_view sent = t.substr(0, t.find_first_of(" \t"));
        why = sent.empty() || sent.size() > 16 ||
                      !std::all_of(sent.begin(), sent.end(),
                                   [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); })
                  ? std::string("its Authorization field is not 'Bearer <API key>'")
                  : fmt::format("its Authorization field uses the scheme '{}', not 'Bearer <API key>'", sent);
        return std::nullopt;
      }
      t.remove_prefix(scheme.size());
    }
    while (!t.empty() && t.front() == ' ') {
      t.remove_prefix(1);
    }
    // An empty one counts as one that names no key, whichever comes first (probe round 26: an
    // empty X-Api-Key before Authorization was passed over, after it refused).
    if ((seen[0] + seen[1] + seen[2]) > 1 && *token != t) {
      why = "its key fields (Authorization, X-Api-Key, Api-Key) do not all name the same key";
      return std::nullopt;
    }
    token = t;
  }
  return token;
}

}  // namespace

namespace {

// Who a refused request's limit belongs to, as the 429's message says it.
std::string scope_text(const request_context& ctx, tenants::limit_scope scope) {
  switch (scope) {
    case tenants::limit_scope::tenant:
      break;
    case tenants::limit_scope::key:
      return fmt::format("API key {}...", ctx.key_id);
    case tenants::limit_scope::model:
      return fmt::format("tenant '{}' for models '{}'", ctx.tenant, ctx.model_rule);
  }
  return fmt::format("tenant '{}'", ctx.tenant);
}

// A request whose own bound is more than a scope's month has left: what it may use, from what,
// and what the scope has left (what the client can lower).
std::string over_budget_text(const request_context& ctx, std::uint64_t reserve, std::string_view who,
                             std::uint64_t left) {
  const std::string_view field =
      ctx.completion_bound_field.empty() ? "max_tokens" : ctx.completion_bound_field;
  const std::string times =
      ctx.completions > 1 ? fmt::format(" x {} completions", ctx.completions) : std::string();
  return fmt::format(
      "this request may use up to {} tokens (its prompt's estimate {} and {} {}{}); {} has {} left this "
      "month: lower {}{}",
      reserve, reserve - std::min(reserve, ctx.completion_bound), field,
      ctx.completion_bound / ctx.completions, times, who, left, field,
      ctx.completions > 1 ? " or n" : "");  // n (or best_of, a batch) multiplies it (probe round 39)
}

// What the client is told when `a` refuses its request (`reserve`: what admit() would have held
// for it, named when its own bound is more than a budget has left).
stage_result refused_by_limits(request_context& ctx, const tenants::admission& a, std::uint64_t reserve) {
  ctx.retry_after_s = a.retry_after_s;
  const std::string who =
      a.verdict == tenants::limit_verdict::admitted ? std::string() : scope_text(ctx, a.scope);
  switch (a.verdict) {
    case tenants::limit_verdict::admitted:
      return stage_result::next();
    case tenants::limit_verdict::requests:
      return stage_result::respond(
          outcome::rate_limit_exceeded,
          fmt::format("{} reached its requests per minute; retry in {} s", who, a.retry_after_s));
    case tenants::limit_verdict::tokens:
      return stage_result::respond(
          outcome::rate_limit_exceeded,
          fmt::format("{} reached its tokens per minute; retry in {} s", who, a.retry_after_s));
    case tenants::limit_verdict::store_unavailable:
      return stage_result::respond(outcome::limits_store_unavailable,
                                   fmt::format("{} has a monthly token budget and the shared limits "
                                               "store is unreachable; retry in {} s",
                                               who, a.retry_after_s));
    case tenants::limit_verdict::in_flight:
      return stage_result::respond(
          outcome::rate_limit_exceeded,
          fmt::format("{} has requests in flight that may use the rest of its tokens; retry in {} s", who,
                      a.retry_after_s));
    case tenants::limit_verdict::over_budget:
      return stage_result::respond(outcome::insufficient_quota, over_budget_text(ctx, reserve, who, a.left));
    case tenants::limit_verdict::month:
      break;
  }
  return stage_result::respond(outcome::insufficient_quota,
                               fmt::format("{} used its monthly token budget", who));
}

}  // namespace

stage_result pipeline::admit(request_context& ctx) const {
  ctx.unbounded_completions =
      ctx.completion_bound == 0 && (answers_with_text(ctx.head) || charged_as_reserved(ctx.head))
          ? ctx.completions
          : 0;
  if (cfg_->tenants_file.empty()) {
    return stage_result::next();
  }
  // A background response goes on generating after the answer, streamed or not, and whether or not
  // anyone reads it back: the gateway sees none of its usage, so it is charged its bound in full
  // (relay.cpp), which the request must give (probe round 50: 31 background streams left at their
  // first event generated 1.7M tokens and cost 651).
  if (ctx.background && ctx.completion_bound == 0) {
    return stage_result::respond(
        outcome::invalid_body,
        "a background response (\"background\") is generated after the gateway's answer, where the gateway "
        "cannot count it: give \"max_output_tokens\", which it is charged in full");
  }
  ctx.model_rule.clear();
  if (!ctx.model.empty()) {
    const std::shared_ptr<const tenants::table> table = tenants_.load();
    const tenants::tenant* t = table->find_tenant(ctx.tenant);
    if (const tenants::model_limit* rule = t != nullptr ? t->model_rule(ctx.model) : nullptr) {
      ctx.model_rule = rule->model.text();
    }
  }
  // Its tokens' estimate before the answer, reserved while it is in flight: one per 4 bytes of
  // the body (the prompt; an Assistants run's max_prompt_tokens when larger, its prompt being the
  // stored thread) plus the completion's bound when the client gave one (max_tokens times n, as
  // OpenAI counts it against a rate limit, for each prompt of a batch); without one, what such
  // completions of its scopes have used, as many times as it asks for completions
  // (limiter::admit): on the endpoints that generate text, and on those whose answer says nothing
  // of what they generate after it (a background response, a run, each image asked for: probe
  // round 40, n=10 images cost one image's prompt). An endpoint that generates nothing
  // (embeddings) has no completion.
  const std::uint64_t reserve = std::max<std::uint64_t>(
      1, std::max(usage_meter::estimate_prompt(ctx.body.size()), ctx.prompt_bound) + ctx.completion_bound);
  const tenants::admission a = limiter_.admit(limit_target_of(ctx), now_ms(), reserve, ctx.reservation,
                                              ctx.unbounded_completions, ctx.completion_bound != 0);
  return refused_by_limits(ctx, a, reserve);
}

stage_result pipeline::admit_head(request_context& ctx) const {
  if (cfg_->tenants_file.empty()) {
    return stage_result::next();
  }
  return refused_by_limits(ctx, limiter_.refuses_every_request(limit_target_of(ctx), now_ms()), 0);
}

stage_result pipeline::identify_tenant(request_context& ctx) const {
  if (key_outside_authorization(ctx.head)) {
    return key_sent_outside_authorization();
  }
  const std::shared_ptr<const tenants::table> table = tenants_.load();
  std::string why;
  const std::optional<std::string_view> token = presented_key(ctx.head, why);
  if (!token) {
    return refused_key(fmt::format(
        "the API key must be sent once: one 'Authorization: Bearer <API key>' field (or X-Api-Key or "
        "Api-Key, naming the same key); {}",
        why));
  }
  const tenants::tenant* by_cert = nullptr;
  if (ctx.client_cert != nullptr && ctx.client_cert->status == client_certificate::state::verified) {
    bool ambiguous = false;
    by_cert = table->find_by_certificate(ctx.client_cert->subjects, ambiguous);
    if (ambiguous) {
      return stage_result::respond(outcome::invalid_client_certificate,
                                   "the client certificate's subject names more than one tenant");
    }
  }
  if (token->empty()) {
    if (by_cert == nullptr) {
      return refused_key(
          "no API key: send 'Authorization: Bearer <API key>' (or a client certificate the tenants file "
          "names)");
    }
    ctx.tenant = by_cert->name;
    return stage_result::next();
  }
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(ctx.received_at.time_since_epoch()).count();
  const tenants::key_lookup found =
      ctx.key_memo != nullptr ? ctx.key_memo->check(*table, *token, now) : table->check_key(*token, now);
  // The presented key's own id when its entry names another (id_mismatch): the access line and
  // the audit record say which key was used, as a leaked key's uses are traced by it.
  if (found.key != nullptr && found.status != tenants::key_check::id_mismatch) {
    ctx.key_id = found.key->id;
  } else {
    ctx.key_id = tenants::key_id_of(*token);
  }
  switch (found.status) {
    case tenants::key_check::valid:
      break;
    case tenants::key_check::revoked:
      return refused_key(fmt::format("the API key {}... was revoked", ctx.key_id));
    case tenants::key_check::expired:
      return refused_key(fmt::format("the API key {}... expired at {}", ctx.key_id,
                                     tenants::format_time(found.key->expires)));
    case tenants::key_check::id_mismatch:
      // Fail closed: served, the key would be logged, metered and audited under another key's id
      // and counted in that key's limits (here and, through a shared store, on every instance
      // whose file has the real one). The admin is told which entry to correct; the client that
      // its key's entry is wrong, not that its key is (probe round 39).
      log_line("warn",
               "an API key's entry in the tenants file names another id: the key is refused until "
               "the entry's id: is corrected to the key's first 17 characters")
          .str("at", fmt::format("{}:{}", cfg_->tenants_file, found.key->pos.line))
          .str("entry_id", found.key->id)
          .str("key_id", ctx.key_id)
          .str("tenant", found.key->tenant)
          .emit();
      return refused_key(
          fmt::format("the API key {}... is refused: its entry in the tenants file names another "
                      "id; the gateway's administrator must correct it",
                      ctx.key_id));
    case tenants::key_check::malformed:
    case tenants::key_check::unknown:
      return refused_key("incorrect API key provided");
  }
  if (by_cert != nullptr && by_cert->name != found.key->tenant) {
    return refused_key("the API key and the client certificate belong to different tenants");
  }
  ctx.tenant = found.key->tenant;
  ctx.key_limited = found.key->limits.any();
  return stage_result::next();
}

stage_result pipeline::identify_body(const request_context& ctx) const {
  using enum classify::unescape_forms;
  if (!cfg_->tenants_file.empty() && holds_key(ctx.body, json_escapes | percent_encoding)) {
    return key_sent_outside_authorization();  // into the cluster's logs, and the audit log's payload
  }
  return stage_result::next();
}

void pipeline::locate_connection(request_context& ctx) const {
  static const http::message_head no_fields;
  const std::optional<client_address> client =
      establish_client_address(ctx.peer_ip, ctx.proxy_source_ip, no_fields, cfg_->trusted_proxies);
  if (!client) {
    return;
  }
  ctx.client_ip = client->ip;
  if (client->source == address_source::proxy_local) {
    ctx.client_country = "unknown";
    ctx.client_country_source = country_source_name(client->source);
  } else if (const std::optional<policy::ip_address> ip = policy::parse_ip(ctx.client_ip); ip && geo_) {
    ctx.client_country = policy::country_name(geo_->current()->db.lookup(*ip));
    ctx.client_country_source = country_source_name(client->source);
  }
}

stage_result pipeline::identify(request_context& ctx) const {
  const client_certificate* cert = ctx.client_cert;
  if (cert != nullptr && cert->status == client_certificate::state::refused) {
    return stage_result::respond(outcome::invalid_client_certificate,
                                 fmt::format("the client certificate identifies nobody: {}", cert->refusal));
  }
  // The client's address and country first: a request refused for its key is recorded with the
  // client that sent it, not with the front proxy it came through.
  std::string why;
  std::optional<client_address> client =
      establish_client_address(ctx.peer_ip, ctx.proxy_source_ip, ctx.head, cfg_->trusted_proxies, &why);
  if (!client) {
    ctx.client_ip = ctx.peer_ip;
    // Recorded with the tenant its key or certificate names, if any (probe round 38: a tenant's
    // requests with a bad X-Forwarded-For were counted among the callers nobody identified).
    (void)identify_caller(ctx);
    return stage_result::respond(outcome::bad_forwarded_for, std::move(why));
  }
  ctx.client_ip = std::move(client->ip);
  // The certificate is the TLS peer's: the client's own, unless an L7 proxy (trusted-xff or
  // trusted-forwarded) made the connection, whose certificate says nothing of the client it forwards.
  if (cfg_->client_country_from_certificate && cert != nullptr &&
      cert->status == client_certificate::state::verified && !cert->country.empty() &&
      client->source != address_source::trusted_xff && client->source != address_source::trusted_forwarded) {
    ctx.client_country = cert->country;
    ctx.client_country_source = mtls_country_source;
  } else if (client->source == address_source::proxy_local) {
    ctx.client_country = "unknown";  // the proxy's own address says nothing of the client
    ctx.client_country_source = country_source_name(client->source);
  } else if (geo_) {
    if (std::optional<policy::ip_address> ip = policy::parse_ip(ctx.client_ip)) {
      ctx.client_country = policy::country_name(geo_->current()->db.lookup(*ip));
      ctx.client_country_source = country_source_name(client->source);
    }
  }
  stage_result r = identify_caller(ctx);
  // Recorded with the tenant the caller was identified as, like any refusal after this point.
  return r.proceed() ? check_idempotency_key(ctx.head) : r;
}

stage_result pipeline::identify_caller(request_context& ctx) const {
  if (!cfg_->tenants_file.empty()) {
    return identify_tenant(ctx);
  }
  const client_certificate* cert = ctx.client_cert;
  if (cert != nullptr && cert->status == client_certificate::state::verified && !cert->common_name.empty()) {
    if (ascii_iequals(cert->common_name, ctx.tenant)) {
      // Callers nobody identified are "default" (an auditor's report counts them apart): a
      // certificate cannot name itself so (probe round 38), in any case either (probe round 39:
      // Default is as hard to tell apart in a report, and a tenants file refuses it too).
      return stage_result::respond(
          outcome::invalid_client_certificate,
          fmt::format("the client certificate's subject CN is '{}', the tenant of callers nobody identified",
                      cert->common_name));
    }
    ctx.tenant = cert->common_name;
  }
  return stage_result::next();
}

}  // namespace sovgw::gateway
