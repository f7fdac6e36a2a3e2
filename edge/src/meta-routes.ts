import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Registry } from "@shopmesh/platform/metrics";
import { sendJson } from "./http-io.ts";
import type { Readiness } from "./readiness.ts";

/** What the operational and documentation routes serve. */
export interface MetaRoutesDeps {
  readiness: Readiness;
  registry: Registry;
  /** The OpenAPI document, generated once at start. */
  openapi: unknown;
}

// swagger-ui-dist's files the /docs page loads; served from node_modules so the page works
// without any CDN.
const DOCS_ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
};

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>shopmesh API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

// Inline scripts would need a CSP exception; a same-origin script does not.
const DOCS_INIT = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
});
`;

/** The meta routes: returns true when it answered the request. */
export type MetaRoutes = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * Serves `/healthz` (alive), `/readyz` (JWKS loaded and required services serving),
 * `/metrics` (Prometheus), `/openapi.json` and the `/docs` page (Swagger UI from
 * swagger-ui-dist). Only GET and HEAD; other paths are left to the API routes.
 */
export function createMetaRoutes(deps: MetaRoutesDeps): MetaRoutes {
  const openapiText = JSON.stringify(deps.openapi);
  const assetDir = swaggerUiDir();
  const assets = new Map<string, Promise<Buffer>>();
  return async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const path = (req.url ?? "/").split("?")[0]!;
    switch (path) {
      case "/healthz":
        sendJson(res, 200, { status: "ok" });
        return true;
      case "/readyz": {
        const report = await deps.readiness.check();
        sendJson(res, report.ready ? 200 : 503, report);
        return true;
      }
      case "/metrics": {
        const text = await deps.registry.metrics();
        res.writeHead(200, { "content-type": deps.registry.contentType });
        res.end(text);
        return true;
      }
      case "/openapi.json":
        res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
        res.end(openapiText);
        return true;
      case "/docs":
      case "/docs/":
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        res.end(DOCS_PAGE);
        return true;
      case "/docs/init.js":
        res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
        res.end(DOCS_INIT);
        return true;
    }
    const asset = path.startsWith("/docs/") ? path.slice("/docs/".length) : "";
    const type = DOCS_ASSETS[asset];
    if (!type || !assetDir) return false;
    let content = assets.get(asset);
    if (!content) {
      content = readFile(join(assetDir, asset));
      assets.set(asset, content);
    }
    const body = await content;
    res.writeHead(200, { "content-type": type, "cache-control": "public, max-age=3600" });
    res.end(body);
    return true;
  };
}

function swaggerUiDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return join(require.resolve("swagger-ui-dist/package.json"), "..");
  } catch {
    return undefined;
  }
}
