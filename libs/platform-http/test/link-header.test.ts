import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '@psc/core';
import { MAX_LINK_HEADER_CHARS, nextLink } from '../src/pages.ts';

describe('Link header: the rel="next" target', () => {
  it('when a header lists several links, then the one whose rel holds next is returned', () => {
    assert.equal(
      nextLink('<https://p.test/a?page=1>; rel="prev", <https://p.test/a?page=3>; rel="next"'),
      'https://p.test/a?page=3',
    );
    assert.equal(nextLink('</a?page=2>;rel=next'), '/a?page=2');
    assert.equal(nextLink('</a?page=2> ; title="x, y; z" ; REL="last Next"'), '/a?page=2');
    assert.equal(nextLink('</a?p=1,2>; rel="next"'), '/a?p=1,2');
  });

  it('when no link is rel=next, or the header is broken, then there is none', () => {
    assert.equal(nextLink(undefined), undefined);
    assert.equal(nextLink(''), undefined);
    assert.equal(nextLink('</a>; rel="nextpage", </b>; rel="prev"'), undefined);
    assert.equal(nextLink('</a>; title="rel=next"'), undefined);
    assert.equal(nextLink('garbage; rel="next", </b>; rel="next"'), '/b');
    assert.equal(nextLink('</a; rel="next"'), undefined);
    // Only the first rel parameter of a link counts (RFC 8288 section 3).
    assert.equal(nextLink('</a>; rel="prev"; rel="next"'), undefined);
  });

  it('when a header is built to make a backtracking parser stall, then the scan still returns the right answer', () => {
    const space = ' '.repeat(MAX_LINK_HEADER_CHARS - 40);
    assert.equal(nextLink(`</a>; rel="${space}x"`), undefined);
    assert.equal(nextLink(`</a>; rel="x${space}next"`), '/a');
    const semis = ';rel= a'.repeat(Math.floor((MAX_LINK_HEADER_CHARS - 20) / 7));
    assert.equal(nextLink(`</a>${semis}`), undefined);
  });

  it('when a header is longer than the bound, then the job fails permanently naming the limit', () => {
    const huge = `</a>; rel="next"; t="${'x'.repeat(MAX_LINK_HEADER_CHARS)}"`;
    assert.throws(
      () => nextLink(huge),
      (err: unknown) =>
        err instanceof AppError &&
        err.code === 'link_header_too_large' &&
        err.retryable === false &&
        err.message.includes(String(MAX_LINK_HEADER_CHARS)),
    );
  });
});
