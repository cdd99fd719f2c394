/** Types of `scripts/cli.mjs` (the compiled CLIs), for the TypeScript callers (build, bench). */
export declare const REPO_ROOT: string;
export declare const CLI_ENTRIES: Record<string, string>;
export declare const CLI_EXTERNAL: string[];
export declare function cliBundlePath(name: string, root?: string): string;
export declare function newestMtime(paths: string[]): number;
export declare function isStale(name: string, root?: string, entries?: Record<string, string>): boolean;
export declare function buildCliBundles(root?: string, entries?: Record<string, string>): Promise<{ file: string; bytes: number }[]>;
export declare function ensureCliBundle(name: string, root?: string, entries?: Record<string, string>): Promise<string>;
