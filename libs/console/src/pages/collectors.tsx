/** Collectors and their collections: being written (see the helper's brief). */
export function Collectors() {
  return <h1>Collectors</h1>;
}
