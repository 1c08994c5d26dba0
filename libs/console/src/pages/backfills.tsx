/** Backfills: being written (see the helper's brief). */
export function Backfills() {
  return <h1>Backfills</h1>;
}
