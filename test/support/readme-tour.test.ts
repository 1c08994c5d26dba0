import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectedStatuses, tourScript } from './readme-tour.ts';

const README = [
  '# psc',
  '```sh',
  'npm start',
  '```',
  '## API tour',
  'Text.',
  '```sh',
  "G=http://127.0.0.1:8080 # a reader's gateway",
  "P=$(curl -s -X POST $G/a -d '{",
  '  "name": "x"',
  "}' | json .id)",
  '# → 201 {"id":…}; 409 if taken',
  'curl -s $G/b   # → {"items":[]}',
  'curl -s -X POST $G/c \\',
  '  -d x',
  '# → 200 or 409: depends',
  '# POST $G/d → 204 (a comment, not a request)',
  '```',
  '```json',
  'curl -s $G/not-shell',
  '```',
  '## Next section',
  '```sh',
  'curl -s $G/elsewhere',
  '```',
].join('\n');

describe('the README tour reader', () => {
  it('when the tour has shell and other blocks, then only its sh blocks are read, with their README line numbers', () => {
    const tour = tourScript(README);
    assert.equal(tour.lines[0]!.line, 8);
    assert.ok(
      tour.lines.every((l) => !l.text.includes('not-shell') && !l.text.includes('elsewhere')),
    );
  });

  it('when a curl spans a quoted body or continuation lines, then it is one command with the status its comment names', () => {
    const { commands } = tourScript(README);
    assert.deepEqual(
      commands.map((c) => [c.from, c.to, c.expected]),
      [
        [9, 11, [201]],
        [13, 13, []],
        [14, 15, [200, 409]],
      ],
    );
  });

  it('when a comment has no status after its arrow, then any 2xx is expected', () => {
    assert.deepEqual(expectedStatuses(['# → {"items":[…]}']), []);
    assert.deepEqual(expectedStatuses(['# plain', '# → 202 {…}']), [202]);
  });
});
