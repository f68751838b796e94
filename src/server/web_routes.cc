#include "server/web_routes.h"

#include "server/error_response.h"
#include "server/web/embedded_files.h"

namespace agentgate {

namespace {

// The pages load only their own scripts and styles and talk only to this
// origin.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

std::string_view ContentType(std::string_view name) {
  auto ends_with = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".json")) return "application/json";
  return "application/octet-stream";
}

// Serve: the embedded file `name` (served names are fixed here or checked by
// the caller), or 404.
void Serve(std::string_view name, HttpResponse& res) {
  const EmbeddedFile* f = FindEmbeddedFile(name);
  if (f == nullptr) {
    SetError(res, NotFound("no file named '" + std::string(name) + "'"));
    return;
  }
  res.content_type = std::string(ContentType(name));
  res.body = std::string(f->data);
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Content-Security-Policy", kContentSecurityPolicy);
}

Handler File(std::string_view name) {
  return [name](HttpRequest&, HttpResponse& res) -> boost::asio::awaitable<void> {
    Serve(name, res);
    co_return;
  };
}

}  // namespace

void RegisterWebRoutes(Router& router) {
  router.add(HttpMethod::kGet, "/docs", File("docs.html"),
             "API reference page (renders /docs/openapi.json)");
  router.add(HttpMethod::kGet, "/docs/openapi.json", File("openapi.json"),
             "OpenAPI 3 document of every route");
  router.add(HttpMethod::kGet, "/dashboard", File("dashboard.html"),
             "Live operations dashboard (asks for the admin key)");
  router.add(
      HttpMethod::kGet, "/ui/{file}",
      [](HttpRequest& req, HttpResponse& res) -> boost::asio::awaitable<void> {
        // Only the pages' scripts and styles: never the pages or the document.
        std::string_view name = req.path_param("file");
        bool asset = name.size() > 3 && (name.substr(name.size() - 3) == ".js" ||
                                         (name.size() > 4 && name.substr(name.size() - 4) == ".css"));
        if (!asset) {
          SetError(res, NotFound("no file named '" + std::string(name) + "'"));
          co_return;
        }
        Serve(name, res);
      },
      "Scripts and styles of /docs and /dashboard");
}

}  // namespace agentgate
