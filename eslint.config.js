import js from '@eslint/js';
import globals from 'globals';
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

// Every Node built-in, bare and `node:`-prefixed, with subpaths (fs/promises); `node:*` also catches the
// prefix-only ones (node:test, node:sqlite).
const builtinPatterns = [
  ...builtinModules.flatMap((name) => [name, `node:${name}`, `${name}/*`, `node:${name}/*`]),
  'node:*',
];

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', '.wcse/', 'runs/', 'engine/', 'bench/out/', 'test/.tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Type-aware rules for every TypeScript file (all are in tsconfig.json: sources, bench/, test/, *.ts
    // configs). The JavaScript files (this config, bin/wcse.js) are linted without type information.
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A dropped promise loses its error and its ordering; `void` marks the deliberate ones.
      '@typescript-eslint/no-floating-promises': 'error',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox; core/ is imported by workflows too.
    files: ['workflows/**/*.ts', 'core/**/*.ts'],
    rules: {
      // Type-only imports vanish at compile time, so workflows may name activity types (proxyActivities).
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [{ name: '@temporalio/activity', message: 'activities only' }],
          patterns: [
            {
              group: builtinPatterns,
              message: 'No Node built-ins in workflow or core code (deterministic sandbox).',
            },
            {
              group: [
                '**/activities/**',
                '**/activities/*.js',
                '@temporalio/client',
                '@temporalio/worker',
                'openai',
              ],
              message: 'No I/O modules in workflow or core code.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
