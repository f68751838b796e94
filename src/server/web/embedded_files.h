// Embedded files: the bytes of the web assets (the OpenAPI document, the
// /docs and /dashboard pages) compiled into the binary at build time by
// cmake/EmbedFiles.cmake from the files named in CMakeLists.txt
// (AGENTGATE_EMBEDDED_FILES).
//
// Thread-safety: immutable static data.
#pragma once

#include <span>
#include <string_view>

namespace agentgate {

struct EmbeddedFile {
  std::string_view name;  // the file's base name, e.g. "openapi.json"
  std::string_view data;  // its bytes
};

// EmbeddedFiles: every embedded file, in the order CMakeLists.txt lists them.
std::span<const EmbeddedFile> EmbeddedFiles();

// FindEmbeddedFile: the file named `name`, or nullptr.
const EmbeddedFile* FindEmbeddedFile(std::string_view name);

}  // namespace agentgate
