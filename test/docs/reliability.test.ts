import { describe } from 'node:test';
import { citationTests, readDocument } from './support/doc-claims.ts';

describe('docs/RELIABILITY.md', () => {
  const document = readDocument('RELIABILITY.md');

  citationTests(document, 40);
});
