#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/status.hpp"
#include "crypto/checkpoint.hpp"
#include "crypto/signed_note.hpp"

// The writer's last word outside the store. Each checkpoint the log signs is also written to
// `<db_dir>.checkpoint`, a file beside the database directory (not in it: a store restored from
// an old copy, replaced, emptied or whose newest writes were lost together with their checkpoints
// would otherwise leave no trace). The log refuses to open a store that holds fewer records than
// the published checkpoint covers, and `audit verify` / `audit report` check a store against it.
namespace sovgw::audit {

// `<db_dir>.checkpoint` (trailing slashes of db_dir ignored).
[[nodiscard]] std::string published_checkpoint_path(std::string_view db_dir);

// Where a reader looks for it: beside `db_dir` as given, and beside the folder it resolves to when
// that is elsewhere (a `--db` that is a symbolic link, or passes through one): a store reached
// through a link must not escape the checkpoint published beside its real folder.
[[nodiscard]] std::vector<std::string> published_checkpoint_paths(std::string_view db_dir);

// The checkpoint published at `path`, checked as a kept checkpoint (signed by `key`, this log's
// origin); nullopt when there is none (no such name). What is there and cannot be read as a
// regular file (a FIFO or a device, never waited on; a directory; a symbolic link to nothing) is
// an io error; a note that does not verify, or too large to be one, verification_failed; both name
// the file. `note`, when given, receives the signed note verbatim.
[[nodiscard]] result<std::optional<crypto::checkpoint>> read_published_checkpoint(
    const std::string& path, const crypto::note_verifier& key, std::string* note = nullptr);

// Replaces the file at `path` with `note`, durably (written aside, synced, renamed, folder synced).
[[nodiscard]] status publish_checkpoint(const std::string& path, std::string_view note);

}  // namespace sovgw::audit
