/**
 * `npm run mapping:impact`: load the current config (its source, Catalog and ledger) and the
 * new one (its mapping), read everything once, and summarise the two dry runs. GET requests only.
 */
import { managedCatalogGroups } from "../config/mapping.js";
import type { ProvisioningConfig } from "../config/types.js";
import { ConfigError } from "../errors.js";
import { readLedger } from "../sync/ledger.js";
import { syncTargets } from "../sync/run.js";
import { managedGroupNames } from "../sync/scope.js";
import { mappingImpact, type ImpactResult } from "./impact.js";
import { readCatalogForReport } from "./read.js";
import { clientFactory, ledgerPathOf, readDirectory, sourceConnectionOf, type ReadOnlyContext } from "./run.js";

export interface MappingImpactOptions extends ReadOnlyContext {
  /** the config in force: its source, Catalog endpoints and ledger are used */
  config: ProvisioningConfig;
  /** the proposed config: only its targets' mappings are used */
  next: ProvisioningConfig;
}

export async function runMappingImpact(options: MappingImpactOptions): Promise<ImpactResult[]> {
  const { config, next } = options;
  const policy = config.sync;
  if (!policy) {
    throw new ConfigError('the current configuration has no "sync" section: the impact is computed from the sync source', {
      ...(config.file !== undefined ? { file: config.file } : {}),
      hint: 'add "sync.source" to the current config (for example a "file" export of the directory)',
    });
  }
  const targets = syncTargets(config, policy);
  const directory = await readDirectory(policy, options);
  const ledger = readLedger(ledgerPathOf(config));
  const now = (options.now ?? (() => new Date()))().toISOString();
  const clients = clientFactory(options);
  const out: ImpactResult[] = [];
  try {
    for (const current of targets) {
      const proposed = next.targets.find((t) => t.name === current.name) ?? (next.targets.length === 1 && targets.length === 1 ? next.targets[0] : undefined);
      if (!proposed) {
        throw new ConfigError(`the new configuration has no target "${current.name}"`, {
          ...(next.file !== undefined ? { file: next.file } : {}),
          hint: "keep the target names of the current configuration",
        });
      }
      const names = [...new Set([...managedGroupNames(managedCatalogGroups(current.groups), current), ...managedGroupNames(managedCatalogGroups(proposed.groups), proposed)])];
      const { client } = clients.client(current);
      const snap = await readCatalogForReport(client, names);
      const connection = sourceConnectionOf(policy);
      out.push(
        mappingImpact({
          current,
          next: { ...proposed, name: current.name },
          policy,
          attributes: config.attributes,
          connections: config.connections,
          ...(connection !== undefined ? { sourceConnection: connection } : {}),
          directory,
          catalog: snap.state,
          ledger,
          now,
        }),
      );
    }
  } finally {
    await clients.close();
  }
  return out;
}
