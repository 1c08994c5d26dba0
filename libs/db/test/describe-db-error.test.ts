import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDb, describeDbError } from '../src/index.ts';

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return assert.fail('expected a throw');
}

describe('describeDbError', () => {
  it('when the URL is malformed, then createDb throws and the line hides the password', () => {
    const err = thrownBy(() =>
      createDb({ url: 'postgres://u:hunter2@host:notaport/db', schema: 's' }),
    );
    const line = describeDbError(err);
    assert.equal(line, 'database URL is not a valid URL');
  });

  it('when the URL is not postgres, then it says so', () => {
    const err = thrownBy(() => createDb({ url: 'mysql://u:hunter2@host/db', schema: 's' }));
    assert.equal(describeDbError(err), 'database URL must start with postgres:// (got mysql://)');
  });

  it('when the password is wrong, then the line keeps the user and the code', () => {
    const err = Object.assign(new Error('password authentication failed for user "psc"'), {
      code: '28P01',
    });
    assert.equal(
      describeDbError(err),
      'database authentication failed: password authentication failed for user "psc" (28P01)',
    );
  });

  it('when the host is unknown, then it names the host', () => {
    const err = Object.assign(new Error('getaddrinfo ENOTFOUND db.invalid'), {
      code: 'ENOTFOUND',
      hostname: 'db.invalid',
    });
    assert.equal(describeDbError(err), 'database host not found: db.invalid (ENOTFOUND)');
  });

  it('when an unknown error quotes a URL, then its password is masked and only one line kept', () => {
    const err = new Error('cannot use postgres://psc:hunter2@db:5432/x\nat somewhere');
    assert.equal(describeDbError(err), 'database error: cannot use postgres://psc:***@db:5432/x');
  });
});
