/** Access (API keys and the audit trail): being written (see the helper's brief). */
export function Access() {
  return <h1>Access</h1>;
}
