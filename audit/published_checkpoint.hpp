#pragma once

#include <optional>
#include <string>
#include <string_view>

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

// The checkpoint published at `path`, checked as a kept checkpoint (signed by `key`, this log's
// origin); nullopt when there is none. An unreadable file or a note that does not verify is an
// error (verification_failed, naming the file).
[[nodiscard]] result<std::optional<crypto::checkpoint>> read_published_checkpoint(
    const std::string& path, const crypto::note_verifier& key);

// Replaces the file at `path` with `note`, durably (written aside, synced, renamed, folder synced).
[[nodiscard]] status publish_checkpoint(const std::string& path, std::string_view note);

}  // namespace sovgw::audit
