/**
 * A stand-in for an object a suite creates in `beforeAll`: every property read is forwarded to
 * the object once it exists (methods bound to it), so suites can hold it in a `const`.
 */
export function lateBound<T extends object>(current: () => T | undefined, what: string): T {
  return new Proxy({} as T, {
    get(_target, key) {
      const target = current();
      if (target === undefined) throw new Error(`the ${what} is not ready yet (use it inside a test or hook)`);
      const value: unknown = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
