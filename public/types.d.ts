// Globals the pages are given by the scripts loaded before their own.

interface Window {
  /** Swagger UI's standalone bundle (swagger-ui-bundle.js, from swagger-ui-dist), loaded before docs.js. */
  SwaggerUIBundle(options: {
    url: string;
    dom_id: string;
    deepLinking?: boolean;
    tryItOutEnabled?: boolean;
    /** null: no badge from validator.swagger.io. */
    validatorUrl?: string | null;
  }): unknown;
}
