// The API description at /openapi.json, rendered by Swagger UI (served by the service itself).
// validatorUrl: null keeps it from asking validator.swagger.io for a badge.
window.SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, tryItOutEnabled: false, validatorUrl: null });
