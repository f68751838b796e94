# Writes a C++ source holding the bytes of each file of FILES (paths relative
# to SOURCE_DIR, separated by '|'), keyed by file name, for
# src/server/web/embedded_files.h. Run at build time:
#   cmake -DSOURCE_DIR=<dir> -DFILES="docs/openapi.json|web/docs.html" -DOUTPUT=<file.cc> -P EmbedFiles.cmake
string(REPLACE "|" ";" files "${FILES}")
set(body "")
set(table "")
set(i 0)
foreach(rel IN LISTS files)
  get_filename_component(name "${rel}" NAME)
  file(READ "${SOURCE_DIR}/${rel}" hex HEX)
  string(LENGTH "${hex}" hex_len)
  math(EXPR size "${hex_len} / 2")
  # Every byte as \xNN in one string literal (NUL bytes and quotes included).
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${hex}")
  string(APPEND body "// ${rel}\nconstexpr char kFile${i}[] =\n    \"${escaped}\";\n\n")
  string(APPEND table "    {\"${name}\", std::string_view(kFile${i}, ${size})},\n")
  math(EXPR i "${i} + 1")
endforeach()
set(out "// Generated from cmake/EmbedFiles.cmake at build time: do not edit.
#include \"server/web/embedded_files.h\"

namespace agentgate {

namespace {

${body}constexpr EmbeddedFile kFiles[] = {
${table}};

}  // namespace

std::span<const EmbeddedFile> EmbeddedFiles() { return kFiles; }

}  // namespace agentgate
")
# Rewrite only on change, so dependents do not rebuild needlessly.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL out)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${out}")
