// The OpenAPI document served at /docs/openapi.json (docs/openapi.json,
// compiled into the binary) against the routes a fully enabled Gateway
// registers: every route documented, nothing documented that is not routed.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <string>

#include "agentgate/core/json.h"
#include "server/gateway.h"
#include "server/web/embedded_files.h"

namespace agentgate {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Json Document() {
  const EmbeddedFile* f = FindEmbeddedFile("openapi.json");
  if (f == nullptr) return Json();
  return Json::parse(f->data, nullptr, false);
}

// RegisteredRoutes: "<method> <pattern>" of every route of a gateway with
// every optional part enabled (demo upstream, caches, rate limits, breakers).
std::set<std::string> RegisteredRoutes(std::map<std::string, std::string>* summaries) {
  char tmpl[] = "/tmp/agentgate_openapi_XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  EXPECT_NE(dir, nullptr);
  Config config;
  config.demo = true;
  config.server.host = "127.0.0.1";
  config.server.port = 0;
  config.server.threads = 1;
  config.server.admin_key = "openapi-test-admin";
  config.server.access_log = ServerConfig::AccessLog::kOff;
  config.storage.data_dir = std::string(dir) + "/data";
  std::set<std::string> out;
  {
    Gateway gateway(config);
    Status s = gateway.start();
    EXPECT_TRUE(s.ok()) << s.message();
    for (const Router::RouteInfo& r : gateway.router().routes()) {
      std::string key = Lower(HttpMethodName(r.method)) + " " + r.pattern;
      out.insert(key);
      (*summaries)[key] = r.summary;
    }
    gateway.shutdown();
  }
  std::filesystem::remove_all(dir);
  return out;
}

TEST(OpenApiTest, DocumentIsOpenApi3) {
  Json doc = Document();
  ASSERT_TRUE(doc.is_object()) << "docs/openapi.json is not embedded or not valid JSON";
  EXPECT_EQ(doc.value("openapi", "").substr(0, 2), "3.");
  EXPECT_TRUE(doc["info"].is_object());
  EXPECT_TRUE(doc["paths"].is_object());
}

TEST(OpenApiTest, EveryRouteIsDocumentedAndViceVersa) {
  Json doc = Document();
  ASSERT_TRUE(doc.is_object());
  std::set<std::string> documented;
  for (auto& [path, item] : doc["paths"].items()) {
    for (auto& [method, op] : item.items()) {
      if (method == "parameters" || method == "summary" || method == "description") continue;
      documented.insert(method + " " + path);
    }
  }
  std::map<std::string, std::string> summaries;
  std::set<std::string> routed = RegisteredRoutes(&summaries);
  ASSERT_GT(routed.size(), 30u);

  std::string missing;
  for (const std::string& r : routed) {
    if (documented.count(r)) continue;
    // A paste-ready entry for docs/openapi.json ("paths"), to be completed.
    size_t sp = r.find(' ');
    missing += "\n  \"" + r.substr(sp + 1) + "\": {\"" + r.substr(0, sp) +
               "\": {\"tags\": [\"...\"], \"summary\": \"" + summaries[r] +
               "\", \"security\": [{\"adminKey\": []}], \"responses\": {\"200\": "
               "{\"$ref\": \"#/components/responses/Ok\"}}}}";
  }
  EXPECT_TRUE(missing.empty()) << "routes missing from docs/openapi.json:" << missing;
  for (const std::string& d : documented) {
    EXPECT_TRUE(routed.count(d)) << "docs/openapi.json documents " << d
                                 << ", which no route serves";
  }
}

TEST(OpenApiTest, EveryOperationHasSummaryResponsesAndPathParameters) {
  Json doc = Document();
  ASSERT_TRUE(doc.is_object());
  const Json& shared_params = doc["components"]["parameters"];
  for (auto& [path, item] : doc["paths"].items()) {
    std::set<std::string> in_path;
    for (size_t i = path.find('{'); i != std::string::npos; i = path.find('{', i + 1)) {
      in_path.insert(path.substr(i + 1, path.find('}', i) - i - 1));
    }
    for (auto& [method, op] : item.items()) {
      SCOPED_TRACE(method + " " + path);
      EXPECT_FALSE(op.value("summary", "").empty());
      EXPECT_TRUE(op["responses"].is_object() && !op["responses"].empty());
      std::set<std::string> declared;
      for (const Json& p : op.value("parameters", Json::array())) {
        const Json* param = &p;
        if (p.contains("$ref")) {
          std::string ref = p["$ref"];
          param = &shared_params[ref.substr(ref.rfind('/') + 1)];
        }
        if (param->value("in", "") == "path") declared.insert(param->value("name", ""));
      }
      EXPECT_EQ(declared, in_path);
    }
  }
}

}  // namespace
}  // namespace agentgate
