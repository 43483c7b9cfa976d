#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/record.hpp"
#include "audit/status.hpp"

namespace sovgw::audit {

class store;

// Conjunction of filters; unset fields match everything. Times are Unix microseconds,
// `since` inclusive, `until` exclusive.
struct query_filter {
  std::optional<std::uint64_t> since_us;
  std::optional<std::uint64_t> until_us;
  std::optional<std::string> tenant;
  std::optional<std::string> decision;
  std::optional<std::string> country;  // client country as records hold it (query_country); only
                                       // requests match (an event has no client)
  std::optional<std::string> cluster;
  std::optional<std::string> model;
  std::optional<std::string> request_id;
  std::uint64_t limit = 0;  // 0 = no limit
  bool scan_all = false;    // read every record, trusting no index (the answer is then complete
                            // even if an index was tampered with)
};

// What a client-country filter means, as records hold it: two letters upper-cased ("ru" -> "RU"),
// "private" (reserved and private address space), "unknown" -> "" (no geo data). nullopt for
// anything else.
[[nodiscard]] std::optional<std::string> query_country(std::string_view text);

[[nodiscard]] bool matches(const query_filter& f, const record& r);

// Which index the query uses: request id, tenant, decision, country, time, else (or with
// scan_all) a full scan.
[[nodiscard]] const char* query_plan(const query_filter& f);

// A record a query read that does not decode (a damaged or altered log; verify names it).
struct undecodable_record {
  std::uint64_t seq = 0;
  std::string reason;
};
inline constexpr std::size_t max_listed_undecodable = 20;

// Positions first..last of the log that hold no record, below one that does.
struct missing_records {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};
inline constexpr std::size_t max_listed_missing = 20;

// How run_query found its answer.
struct query_stats {
  // A request id query whose index listed no record, or could not be read, read the whole log
  // instead (a request id the index lost is still found: the receipt workflow must not depend on an
  // index).
  bool scanned_after_index = false;
  std::string index_error;  // why the request id index could not be read (then scanned_after_index)
  // Records read that do not decode: no filter can be applied to them, so they are skipped (never
  // given to the sink) and the query goes on past them. The first max_listed_undecodable, and how many.
  std::vector<undecodable_record> undecodable;
  std::uint64_t undecodable_count = 0;
  // Records that carry another seq than the position they are stored at (records moved: the log
  // was reordered). They are given to the sink as the record at their position, which is what a
  // proof of them covers (and fails on); the first max_listed_undecodable, and how many.
  std::vector<undecodable_record> misplaced;
  std::uint64_t misplaced_count = 0;
  // Positions a scan of the log passed that hold no record (deleted: verify names what changed), as
  // ranges of seq numbers, the first max_listed_missing of them, and how many positions in all. Only
  // a scan (no index) reads every position; a filter does not hide a missing one, since the scan
  // sees the gap before any filter applies.
  std::vector<missing_records> missing;
  std::uint64_t missing_count = 0;
  // Index entries an index query read that name a record the log does not hold (deleted, or the
  // log is damaged: verify names what changed), the first max_listed_missing of them, and how many.
  // The query lists the records of the entries after them (a request id query then reads the whole
  // log too, as for an index that cannot be read).
  std::vector<std::uint64_t> index_names_missing;
  std::uint64_t index_names_missing_count = 0;
  // Index entries an index query read whose record says otherwise than the entry (the entry was
  // repointed, or the record rewritten: verify names which): the record is not what the filter asked
  // for, and the record the entry should list may be missing from the answer. The first
  // max_listed_missing of them (`reason`: what the entry lists it under, and what the record says),
  // and how many.
  struct contradicted_entry {
    std::uint64_t seq = 0;
    const char* index = "";  // index_name()
    std::string listed;      // the value the entry lists the record under (a time: Unix microseconds)
    std::string says;        // the record's own value
  };
  std::vector<contradicted_entry> index_contradicted;
  std::uint64_t index_contradicted_count = 0;
  std::uint64_t records_read = 0;     // by a scan
  std::uint64_t with_request_id = 0;  // records read that carry the request id asked for
  std::uint64_t matched = 0;          // records given to the sink
};

// Streams matching records in seq order (time order for time-only queries) to `sink` until it
// returns false or `limit` is reached. Returns an error status on read failure or a damaged index
// (a request id query then reads the whole log instead); a record that does not decode is skipped
// and counted in `stats` (may be null), which says how the answer was found.
[[nodiscard]] status run_query(const store& s, const query_filter& f,
                               const std::function<bool(const record&)>& sink, query_stats* stats = nullptr);

// The record with this request id, looked up like run_query (the whole log is read when the index
// lists none). `seq` is empty when no record carries it, and `absent` then says why, `deleted`
// naming the record the request id index lists for it that the log no longer holds (the record was
// written, then removed). verification_failed, naming them, when more than one record carries it (a
// gateway gives every request its own id: which one a receipt means is not the log's to guess).
struct request_lookup {
  std::optional<std::uint64_t> seq;
  std::string absent;                    // (no seq) "no record with request id ...: ..."
  std::optional<std::uint64_t> deleted;  // (no seq) a record the request id index names, missing
  bool index_missed = false;  // found by reading the log: the request id index does not list it
  std::string index_error;    // (then) why the index could not be read, when it could not
  // Records read on the way that do not decode (any of them may be the one meant): the first few.
  std::vector<undecodable_record> undecodable;
  std::uint64_t undecodable_count = 0;
  // Records read on the way stored at another position than their own seq (query_stats::misplaced).
  std::vector<undecodable_record> misplaced;
  std::uint64_t misplaced_count = 0;
};
[[nodiscard]] result<request_lookup> find_request(const store& s, const std::string& request_id);

// Record `seq`, decoded; not_found when the log holds no such record, corruption when it does not
// decode.
[[nodiscard]] result<record> read_record(const store& s, std::uint64_t seq);

}  // namespace sovgw::audit
