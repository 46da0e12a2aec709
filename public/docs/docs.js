// The API description at /openapi.json, rendered by Swagger UI (served by the service itself).
window.SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, tryItOutEnabled: false });
