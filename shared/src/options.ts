/** Option checks shared by the client's constructors: each throws a TypeError naming the option. */

/** `value` (or `fallback` when undefined) as a finite number > 0. @throws {TypeError} */
export function positive(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${option} must be a positive number, got ${String(value)}`);
  }
  return value;
}

/** `value` (or `fallback`) as an integer > 0. @throws {TypeError} */
export function positiveInt(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new TypeError(`${option} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/** `value` (or `fallback`) as a finite number ≥ 0. @throws {TypeError} */
export function nonNegative(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${option} must be a number ≥ 0, got ${String(value)}`);
  }
  return value;
}

/** `value` (or `fallback`) strictly between 0 and 1. @throws {TypeError} */
export function ratio(option: string, value: number | undefined, fallback: number): number {
  const v = positive(option, value, fallback);
  if (v >= 1) throw new TypeError(`${option} must be between 0 and 1, got ${v}`);
  return v;
}
