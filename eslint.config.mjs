// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier/flat';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

const SERVICES = ['gateway', 'platform-registry', 'scheduler', 'sync-worker', 'collector'];

/** `@psc/<service>` packages: nothing but the service itself may depend on one (S5). */
const servicePackages = (message) => SERVICES.map((name) => ({ name: `@psc/${name}`, message }));

/**
 * Relative imports that reach into `services/` from outside, or from one service into a sibling
 * (`../../scheduler/src/x.ts` from `services/gateway/src/`). Regexes, not globs, so the depth of
 * the `../` chain does not matter.
 */
const relativeServicePatterns = (others, message) => [
  { regex: '(^|/)services/', message },
  ...(others.length > 0 ? [{ regex: `^(\\.\\./)+(${others.join('|')})(/|$)`, message }] : []),
];

/**
 * Infrastructure a service's `domain/` must not import (S4): its use cases and rules reach the
 * database and the broker through the ports data-access and entry-points implement, so they hold
 * no transaction handles, SQL or PostgreSQL error codes, and are tested without either.
 */
const INFRASTRUCTURE = [
  'knex',
  'pg',
  'amqplib',
  'amqp-connection-manager',
  'koa',
  '@koa/router',
  'node-fetch',
  '@psc/db',
];
const domainMessage =
  'domain/ holds use cases and rules: reach the database or broker through a port that data-access implements.';

/**
 * Packages whose index loads every module they have: Node has no tree shaking, so importing one
 * function from `date-fns` kept its ~250 modules in the scheduler (10–15 MB of idle RSS).
 */
const WHOLE_PACKAGE_INDEXES = [
  {
    name: 'date-fns',
    message:
      "import each function from its own module: `import { addDays } from 'date-fns/addDays'`.",
  },
];

const serviceBoundary = (service) => {
  const message = `Services share code only through libs/* packages; ${service} must not import another service.`;
  const paths = [...servicePackages(message), ...WHOLE_PACKAGE_INDEXES];
  const patterns = relativeServicePatterns(
    SERVICES.filter((other) => other !== service),
    message,
  );
  // A later block replaces the rule's options for its files, so the domain's repeats the boundary.
  return [
    {
      name: `psc/boundaries/${service}`,
      files: [`services/${service}/**/*.ts`],
      rules: { 'no-restricted-imports': ['error', { paths, patterns }] },
    },
    {
      name: `psc/boundaries/${service}/domain`,
      files: [`services/${service}/src/domain/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            paths: [...paths, ...INFRASTRUCTURE.map((name) => ({ name, message: domainMessage }))],
            patterns,
          },
        ],
      },
    },
  ];
};

const libsMessage = 'libs/* must not depend on a service.';

export default defineConfig([
  globalIgnores([
    '**/node_modules/',
    'bench/results/',
    '.psc/',
    '**/coverage/',
    '**/dist/',
    '**/*.js',
    '**/*.cjs',
    '**/*.mjs',
  ]),

  {
    name: 'psc/typescript',
    files: ['**/*.ts', '**/*.tsx'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it/test return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: [
                'describe',
                'it',
                'test',
                'suite',
                'before',
                'after',
                'beforeEach',
                'afterEach',
              ],
            },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },

  ...SERVICES.flatMap(serviceBoundary),

  {
    name: 'psc/boundaries/libs',
    files: ['libs/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: servicePackages(libsMessage),
          patterns: relativeServicePatterns([], libsMessage),
        },
      ],
    },
  },

  // Turns off every stylistic rule that would fight prettier; must stay last.
  prettier,
]);
