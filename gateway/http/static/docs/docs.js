// pamgate's /docs: Swagger UI (swagger-ui-dist 5.35.0, vendored beside this file, Apache-2.0)
// rendering /openapi.json from this server; nothing is fetched from elsewhere.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
    presets: [SwaggerUIBundle.presets.apis],
  });
});
