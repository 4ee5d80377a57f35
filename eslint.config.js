import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'fs',
  'path',
  'os',
  'child_process',
  'http',
  'https',
  'net',
  'crypto',
  'stream',
  'worker_threads',
  'process',
  'timers',
  'events',
  'readline',
  'zlib',
  'dns',
  'tls',
  'cluster',
  'v8',
  'vm',
];
const builtinPatterns = nodeBuiltins.flatMap((name) => [name, `node:${name}`, `${name}/*`, `node:${name}/*`]);

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
