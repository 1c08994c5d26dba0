/** An OTLP JSON AnyValue: exactly one of the fields is set. */
interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  bytesValue?: string;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
}

export interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}

/** Turns OTLP key/value attributes into a plain object of JS values. */
export function flattenAttributes(attributes: OtlpKeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of attributes ?? []) out[key] = anyValue(value);
  return out;
}

function anyValue(value: OtlpAnyValue | undefined): unknown {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) {
    // int64 travels as a string in proto3 JSON; keep precision when it does not fit a double.
    const n = Number(value.intValue);
    return Number.isSafeInteger(n) ? n : String(value.intValue);
  }
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.bytesValue !== undefined) return value.bytesValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(anyValue);
  if (value.kvlistValue) return flattenAttributes(value.kvlistValue.values);
  return undefined;
}

/**
 * Trace and span ids as lower-case hex. The JS exporter sends hex; spec-strict proto3 JSON sends
 * base64, which is converted so both compare equal with ids taken from traceparent headers.
 */
export function normalizeId(id: string | undefined): string | undefined {
  if (!id) return undefined;
  const isHex = /^[0-9a-f]+$/i.test(id) && (id.length === 32 || id.length === 16);
  const hex = isHex ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex');
  // All-zero ids mean "none" (e.g. a root span's parent).
  return /^0*$/.test(hex) ? undefined : hex;
}
