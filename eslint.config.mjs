// ESLint: typescript-eslint's recommended type-checked rules over the code; Prettier owns the layout.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // The test helpers written in plain JavaScript (a child process, a browser-side module) have no tsconfig of their own.
        projectService: { allowDefaultProject: ['test/support/*.js', 'test/support/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
      globals: { ...globals.node },
    },
    rules: {
      // A leading underscore names what is left out on purpose (a rest sibling, Express's 4-argument error handler).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  { files: ['test/support/fake-livekit-client.mjs'], languageOptions: { globals: { ...globals.browser } } },
  // The browser client: plain JavaScript typed by JSDoc, checked through public/tsconfig.json.
  { files: ['public/**/*.js'], languageOptions: { globals: { ...globals.browser } } },
  prettier,
);
