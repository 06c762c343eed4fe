// Files that survive crashes: whole-file reads, atomic replacement, checksums.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace locsweep {

// Reads a whole file; throws InputError naming the path when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// Replaces `path` with `contents` atomically: write a temporary file beside it, fsync it,
// rename it over `path`, fsync the folder. A crash leaves either the old or the new file.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

// Makes a completed rename durable (fsync of the folder holding `path`).
void fsync_parent(const std::filesystem::path& path);
// fsync of one file, by path.
void fsync_file(const std::filesystem::path& path);

// SHA-256 of a file's bytes, streamed.
std::string file_sha256(const std::filesystem::path& path);

// `path` as written if absolute, else relative to `base_dir` (a spec file's folder).
std::filesystem::path resolve_path(const std::string& path, const std::string& base_dir);

// Checks, without writing anything, that `folder` can be used for output: it exists and is
// writable, or its nearest existing ancestor is a writable folder (so it can be created).
// Throws InputError naming `what` (e.g. "--artifacts"), the path and the reason: a part of
// the path that is a regular file, a permission, a read-only file system.
void ensure_writable_folder(const std::filesystem::path& folder, const std::string& what);

// A temporary name beside `path` that no other process uses (pid and a counter).
std::filesystem::path temporary_sibling(const std::filesystem::path& path);

}  // namespace locsweep
