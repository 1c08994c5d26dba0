import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  citationProblems,
  missingFiles,
  readDocument,
  unreadSettings,
} from './support/doc-claims.ts';

describe('docs/RELIABILITY.md', () => {
  const document = readDocument('RELIABILITY.md');

  it('when it names the test that checks a promise, then that file exists and holds a test of that name', () => {
    assert.deepEqual(citationProblems(document, 40), []);
  });

  it('when it names a source file or a PSC_ setting, then the file exists and a service reads the setting', () => {
    assert.deepEqual(missingFiles(document), [], 'every file it names exists');
    assert.deepEqual(
      unreadSettings(document),
      [],
      'every PSC_ setting it names is one a service reads',
    );
  });
});
