// ESLint for the TypeScript (and the few JavaScript files) of the whole tree: ESLint's and typescript-eslint's
// recommended rules. Formatting is Prettier's job (.prettierrc.json), not the linter's.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      "dist/",
      "native/build/",
      "native/generated/",
      "prebuilds/",
      ".cache/",
      "test-artifacts/",
      "editor/ui/dist/",
      "samples/village/dist/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      // A leading underscore names what is deliberately unused (a destructured field left out, a required parameter).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true }],
    },
  },
);
