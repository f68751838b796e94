#include "server/web/embedded_files.h"

namespace agentgate {

const EmbeddedFile* FindEmbeddedFile(std::string_view name) {
  for (const EmbeddedFile& f : EmbeddedFiles()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace agentgate
