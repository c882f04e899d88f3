// Lint: typescript-eslint's recommended rules, type-aware where they catch real defects
// (floating promises, misused promises). Formatting is prettier's job (`npm run format`).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", ".tools/", ".venv/", ".drill/", ".runs/", "bench/results/", "test/fixtures/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      "@typescript-eslint/no-explicit-any": "off",
      // Initial values that every branch overwrites read better than definite-assignment tricks.
      "no-useless-assignment": "off",
    },
  },
  { files: ["**/*.js", "**/*.mjs"], ...tseslint.configs.disableTypeChecked },
  // The set-up's .mjs files are type-checked from their JSDoc (scripts/tsconfig.json), which
  // catches undefined names; ESLint's no-undef would not know Node's globals.
  { files: ["scripts/**/*.mjs", "test/**/*.mjs"], rules: { "no-undef": "off" } },
);
