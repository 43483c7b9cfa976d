#pragma once

// The policy-facing stages of the request pipeline: identify, classify, decide, route. Pure
// functions of the request context and the frozen configuration (no sockets, no audit log: the
// record stage is gateway/request_recorder), so the policy library plugs in here without reshaping
// the session. Thread-safe: const after construction; reload_policy() swaps atomically.

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config.hpp"
#include "gateway/geo_store.hpp"
#include "gateway/request_context.hpp"
#include "policy/geo_db.hpp"
#include "policy/glob.hpp"
#include "policy/policy.hpp"
#include "policy/policy_store.hpp"
#include "tenants/limiter.hpp"
#include "tenants/tenants.hpp"

namespace sovgw::gateway {

// The request field in which a client declares the data classes of its request (values are the
// policy's data-class `header` values, comma-separated). Never forwarded (client Sovereign-*
// fields are stripped).
inline constexpr std::string_view data_class_header = "Sovereign-Data-Class";

// `cluster_available(i)`: whether cluster i has an endpoint worth trying now.
using availability_fn = std::function<bool(int)>;
// Why cluster i has none, when something lasting says so (an endpoint whose round trip contradicted
// its declared location); empty otherwise.
using unavailable_reason_fn = std::function<std::string(int)>;

// A model a tenant may use, with the countries of the clusters that would serve it.
struct permitted_model {
  std::string id;
  std::vector<std::string> countries;  // sorted, unique
};

class pipeline {
 public:
  // Loads the tenants file, if any; with config.policy_file set, the geo database (tor-geoipdb) and
  // the policy, checked as reload_policy() checks it. Throws config_error with every error of the
  // tenants file or the policy (file:line:col, one a line), std::runtime_error when the geo
  // database cannot be loaded. `geo`: the geo database to use, shared with the endpoint geo check
  // (SIGHUP reloads it there); its own without.
  explicit pipeline(std::shared_ptr<const config> cfg, std::shared_ptr<geo_store> geo = nullptr);

  // Recompiles the policy file, checks it against the configured clusters and the live tenants
  // (policy/deployment_check.hpp: the invariants proved, routes and tenant names cross-checked, as
  // `sovgw policy check --clusters` does) and swaps it in atomically. Slow for a large policy
  // (0.7 s to compile 10k rules, plus the proofs): call it from the reload thread, never an I/O
  // thread; a stop requested on `stop` abandons it. On failure the last good policy stays live and
  // the errors are returned (file:line:col, one per line). Thread-safe.
  // `with`: check it against these tenants instead of the live ones (a tenants file about to be
  // swapped in, on SIGHUP). A file that holds the live version is not compiled again (the
  // configuration's clusters do not change while the gateway runs): only its tenant names are
  // checked, and `unchanged` (if given) is set.
  [[nodiscard]] std::string reload_policy(std::stop_token stop = {}, const tenants::table* with = nullptr,
                                          bool* unchanged = nullptr);
  [[nodiscard]] std::string policy_version() const;
  // The warnings of the live policy's compilation and checks (file:line:col).
  [[nodiscard]] std::vector<policy::diagnostic> policy_warnings() const;
  // Reloads config.tenants_file and swaps it in atomically; on failure the last good tenants stay
  // live and the errors are returned (file:line:col, one per line). Thread-safe.
  [[nodiscard]] std::string reload_tenants();
  // The live policy's checks against `with` instead of the live tenants: its errors, empty when it
  // holds (or without a policy). Fast: of check_deployment, only the tenant names depend on them.
  [[nodiscard]] std::string check_live_policy(const tenants::table& with) const;
  // The tenants file parsed, not yet live (null, with `errors`, when it does not load; null without
  // a tenants file); use_tenants() swaps one in. SIGHUP checks the policy against a new tenants
  // file before either goes live: the pair `config check` and `serve` accept, or the last good.
  // A file that does not load may still list its keys and tenants (tenants::load_result::
  // readable_keys, readable_tenants): they go to `readable` and `readable_tenants`, for
  // apply_revocations and apply_certificate_removals.
  [[nodiscard]] std::shared_ptr<const tenants::table> load_tenants(
      std::string& errors, std::optional<std::vector<tenants::api_key>>* readable = nullptr,
      std::optional<std::vector<tenants::tenant>>* readable_tenants = nullptr) const;
  void use_tenants(std::shared_ptr<const tenants::table> table);
  // When a new tenants file cannot go live, what it takes away still does: every live key it
  // revokes, shortens or no longer lists is revoked (or expires) in the live table. Returns how
  // many keys changed. Never grants anything.
  std::size_t apply_revocations(std::span<const tenants::api_key> next);
  // Likewise for client certificates: every certificate subject of a live tenant that `next` no
  // longer lists under that tenant (removed, or moved to another) identifies nobody in the live
  // table. Returns how many subjects were taken away. Never grants anything (a move's new tenant
  // waits for a file that loads).
  std::size_t apply_certificate_removals(const std::vector<tenants::tenant>& next);
  // The live tenants table, null without a tenants file.
  [[nodiscard]] std::shared_ptr<const tenants::table> tenants() const { return tenants_.load(); }

  // identify: the tenant and the client country (geo database, when a policy is configured).
  // A client certificate whose identity could be read two ways is refused (401
  // invalid_client_certificate). With a tenants file, the tenant is the one the bearer API key or
  // the certificate's subject names (both: they must agree); an unknown, revoked or expired key,
  // or no identity at all, is 401 invalid_api_key. Without one, it is the certificate's CN, else
  // "default". Then an Idempotency-Key that cannot be forwarded scoped to the tenant (empty, a
  // list, neither an sf-string nor a bare key) is 400 invalid_idempotency_key. It reads the head
  // alone: it runs before the body is read, so that a request it refuses has its body neither read
  // nor buffered.
  [[nodiscard]] stage_result identify(request_context& ctx) const;
  // Before the body is read: a request of a tenant or key that a limit refuses whatever it asks (a
  // spent monthly budget, an empty requests or tokens bucket, a monthly budget while the shared
  // store is down) is refused at once, as admit would (429 or 503), its body never read.
  [[nodiscard]] stage_result admit_head(request_context& ctx) const;
  // identify's part that needs the body: with a tenants file, an API key in it (any spelling the
  // cluster would decode) is refused, 400, as one in the target or a forwarded field is.
  [[nodiscard]] stage_result identify_body(const request_context& ctx) const;
  // For a request refused before identify (its head did not parse): the client's address and country
  // from what the connection itself says (the socket, or a PROXY protocol header), never from the
  // head's fields, so that its record names where it came from.
  void locate_connection(request_context& ctx) const;
  // The limits (after classify, which reads the model): with a tenants file, the request counts
  // against its tenant's limits, its key's (api_key::limits) and its tenant's first model rule that
  // matches ctx.model (model_limits), and must pass all of them: otherwise 429
  // rate_limit_exceeded or insufficient_quota (503 limits_store_unavailable for a monthly budget
  // while the shared store is down; tenants/limiter.hpp), naming the scope that refused, with
  // ctx.retry_after_s.
  [[nodiscard]] stage_result admit(request_context& ctx) const;
  // classify: model and stream flag from the OpenAI JSON body, and what the policy's detectors
  // find in its decoded strings (classify/json_body.hpp); 415 for a content-encoded body or a body
  // not labelled application/json on /v1/, 400 for a body the cluster could read differently.
  [[nodiscard]] stage_result classify(request_context& ctx) const;
  // decide: the data classes declared in Sovereign-Data-Class (400 unknown_data_class for a value
  // the policy does not declare), then the policy's decision (403 on deny); without a policy
  // every cluster is allowed.
  [[nodiscard]] stage_result decide(request_context& ctx) const;
  // The tenants' limits, for the limits store to sync (gateway/limits_store.hpp).
  [[nodiscard]] tenants::limiter& limiter() const { return limiter_; }
  // After the request: its tokens are charged to every scope admit() counted it against, and the
  // reservation admit() made there is released (ctx.reservation is emptied).
  void account(request_context& ctx) const;
  // sovgw_tenant_budget_remaining_tokens{tenant}: the tokens each tenant with a monthly budget has
  // left this month, in Prometheus text format.
  void render_budgets(std::string& out) const;

  // What `GET /v1/models` lists for this request's tenant and client country (identify ran): every
  // model named exactly in a cluster's `models` (globs cannot be listed), when the live policy
  // permits an inference request for it (POST /v1/chat/completions, no data classes) to a cluster
  // serving it. `model(ctx, id)` answers for one id (globs match it): nullopt when not permitted.
  [[nodiscard]] std::vector<permitted_model> models(const request_context& ctx) const;
  [[nodiscard]] std::optional<permitted_model> model(const request_context& ctx, std::string_view id) const;
  // Why the live policy keeps `model` (or, when empty, every model a cluster lists) from this
  // client: the denial (403 policy_denied, naming the rules, the record's rules and decision
  // filled) of an inference request for it, as decide() would answer one; or, with no policy or
  // when no cluster serves the model, nullopt.
  [[nodiscard]] std::optional<stage_result> model_denied(request_context& ctx, std::string_view model) const;

  // route: the first allowed cluster that serves the model and is available; fail closed.
  [[nodiscard]] stage_result route(request_context& ctx, const availability_fn& cluster_available,
                                   const unavailable_reason_fn& unavailable_reason = {}) const;
  // Why a cluster can never serve (its endpoints failed the geo check, gateway/endpoint_geo.hpp), by
  // cluster index; route's 503 names it. Call at start-up, before any request.
  // Why each cluster has no usable endpoint ("" when it has one), for 503 messages; swapped after
  // every endpoint re-resolution.
  void set_unusable_reasons(std::vector<std::string> reasons) {
    unusable_.store(std::make_shared<const std::vector<std::string>>(std::move(reasons)));
  }

 private:
  // A compiled policy with the configured clusters bound to it (route masks).
  struct binding {
    std::shared_ptr<const policy::snapshot> policy;
    policy::bound_clusters routes;
    // Classes that detectors put requests in, with their detector bits, and the bits' union.
    std::vector<std::pair<std::string_view, std::uint32_t>> detected_classes;
    std::uint32_t detectors = 0;
    std::uint32_t redactors = 0;  // detectors some rule's `redact` obligation lists
    std::vector<policy::diagnostic> warnings;
  };

  [[nodiscard]] stage_result decide_with_policy(request_context& ctx, const binding& b) const;
  // The 403 for a decision that did not permit: the rules that decided, or the nearest permit.
  [[nodiscard]] stage_result denial(const request_context& ctx, const binding& b,
                                    const policy::decision& d) const;
  [[nodiscard]] stage_result classify_body(request_context& ctx) const;
  [[nodiscard]] stage_result identify_tenant(request_context& ctx) const;
  // identify's tenant: identify_tenant with a tenants file, else the certificate's CN.
  [[nodiscard]] stage_result identify_caller(request_context& ctx) const;
  // Whether some cluster of the configuration lists `model` (policy aside).
  [[nodiscard]] bool served_anywhere(std::string_view model) const;
  void decide_inference(const binding& b, const request_context& ctx, std::string_view model,
                        policy::decision& d) const;
  [[nodiscard]] std::vector<std::string> countries_serving(const request_context& ctx, std::string_view model,
                                                           const binding* b) const;

  std::shared_ptr<const config> cfg_;
  std::vector<std::vector<policy::glob_pattern>> models_;  // per cluster, compiled once
  std::vector<policy::cluster_info> cluster_infos_;
  std::shared_ptr<geo_store> geo_;  // null without a policy; loaded once constructed
  std::atomic<std::shared_ptr<const std::vector<std::string>>> unusable_{
      std::make_shared<const std::vector<std::string>>()};
  policy::policy_store store_;
  std::atomic<std::shared_ptr<const binding>> binding_;
  std::atomic<std::shared_ptr<const tenants::table>> tenants_;
  mutable tenants::limiter limiter_;  // thread-safe
};

// A body on a method that cluster servers read none for (GET, HEAD, OPTIONS, DELETE, TRACE): 400
// invalid_body, on every path, the gateway's own GET /v1/models too.
[[nodiscard]] stage_result body_where_none_is_read(const request_context& ctx);

}  // namespace sovgw::gateway
