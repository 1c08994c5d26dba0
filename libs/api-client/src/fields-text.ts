/**
 * Free-form fields (a log line's, an audit entry's details) on one line as `key=value` pairs,
 * strings as they are and anything else as JSON: how the CLI's tables and the console's cells
 * show them, so an operator reads the same text in both.
 */
export const fieldsText = (fields: Record<string, unknown>): string =>
  Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
