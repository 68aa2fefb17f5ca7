// Swagger UI over the gateway's own OpenAPI document (gateway/api/landing.py). No inline
// script: the content security policy allows scripts from the gateway only.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,  // the badge would ask validator.swagger.io
  });
});
