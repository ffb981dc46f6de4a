// Reads TAP from stdin with tap-parser (the TAP 14 reference implementation, used by node-tap)
// and prints, as JSON: every test point at every depth, the comments, any non-TAP lines, and
// the final results of the top-level parser. Used by reports/tests/tap14_roundtrip.rs.
import { Parser } from 'tap-parser';

const points = [];
const extra = [];
const comments = [];

function attach(parser) {
  // Keep the result objects and read them at the end: the YAML block of a subtest's closing
  // point is attached after its 'assert' event fires.
  parser.on('assert', (res) => points.push({ depth: parser.level, res }));
  parser.on('comment', (c) => comments.push({ depth: parser.level, comment: c }));
  parser.on('extra', (e) => extra.push({ depth: parser.level, extra: e }));
  parser.on('child', attach);
}

const parser = new Parser((final) => {
  process.stdout.write(
    JSON.stringify(
      {
        points: points.map(({ depth, res }) => ({
          depth,
          ok: res.ok,
          id: res.id ?? null,
          name: res.name,
          fullname: res.fullname,
          skip: res.skip,
          todo: res.todo,
          diag: res.diag ?? null,
          subtest: res.closingTestPoint === true,
        })),
        comments,
        extra,
        final,
        pragmas: parser.pragmas,
        bailedOut: parser.bailedOut,
      },
      null,
      2,
    ) + '\n',
  );
});
attach(parser);
process.stdin.setEncoding('utf8');
process.stdin.pipe(parser);
