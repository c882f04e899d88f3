// Lint: typescript-eslint's recommended rules, type-aware where they catch real defects
// (floating promises, misused promises). Formatting is prettier's job (`npm run format`).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// The three wings (README, "Repository layout"): contract/ holds pure shared facts and imports
// nothing of ours; production code (infra/, runbooks/, policy/) never imports the rehearsal (the
// drill, stand-ins and bench) or the tests; infra/ and runbooks/ do not import each other; stack
// config is validated without the posture model or components. test/infra/import-fences.test.ts
// proves each rule fails lint on a wrong-way import.
const REHEARSAL = {
  group: ["**/rehearsal/**", "**/test/**"],
  message: "production code never imports the rehearsal or the tests (README: Repository layout).",
};
/** `no-restricted-imports` with these groups, for `files`. */
const fence = (files, ...groups) => ({ files, rules: { "no-restricted-imports": ["error", { patterns: groups }] } });
export const IMPORT_FENCES = [
  fence(["contract/**"], {
    group: ["../*", "../**", "node:*"],
    message: "contract/ holds pure shared facts: it imports nothing of ours outside contract/ and does no I/O.",
  }),
  fence(["policy/**"], REHEARSAL, {
    group: ["**/runbooks/**"],
    message: "the policy pack checks declared resources; it does not import runbooks.",
  }),
  fence(["runbooks/**"], REHEARSAL, {
    group: ["**/infra/**", "**/policy/**"],
    message: "runbooks depend on contract/, never on the Pulumi program or the policy pack.",
  }),
  // The one door from runbooks into infra/: with no outputs yet (the state backend down), the
  // outputs-mirror reader finds the DR region in the committed stack config, through the config
  // module that owns reading it, rather than parsing Pulumi.<stack>.yaml a second way.
  fence(["runbooks/aws/outputs-mirror-reader.ts"], REHEARSAL, {
    regex: String.raw`(^|/)(policy/|infra/(?!config/load\.ts$))`,
    message: "the outputs-mirror reader may read the committed stack config only (infra/config/load.ts).",
  }),
  fence(["infra/**"], REHEARSAL, {
    group: ["**/runbooks/**", "**/policy/**"],
    message: "the Pulumi program depends on contract/, never on runbooks or the policy pack.",
  }),
  fence(["infra/config/**"], REHEARSAL, {
    group: ["**/runbooks/**", "**/policy/**", "**/posture/**", "**/components/**", "**/stacks/**"],
    message: "config is validated from contract/ facts alone (infra/config is read by components, not the reverse).",
  }),
];

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      ".tools/",
      ".venv/",
      ".drill/",
      ".runs/",
      ".corpus/",
      "rehearsal/bench/results/",
      "test/fixtures/",
    ],
  },
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
  ...IMPORT_FENCES,
);
