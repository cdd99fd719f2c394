/**
 * The deploy planner: desired state (tenant.yaml) against the tenant's state → a plan.
 *
 * Pure: plain data in, plain data out. No fetch, no node:*, no clock. Fingerprints are
 * computed at the edge (./fingerprint.ts) and passed in; the planner only compares them
 * with the markers it reads from the remote code.
 */

import { FINGERPRINT_MARKER, PIN_MARKER } from "./markers.js";

export { FINGERPRINT_MARKER, PIN_MARKER };

/** where a new binding goes on its first bind; later runs never move it */
export type BindingPosition =
  | { kind: "first" }
  | { kind: "last" }
  | { kind: "after"; actionName: string }
  | { kind: "before"; actionName: string };

export interface DesiredBinding {
  actionName: string;
  displayName: string;
  position: BindingPosition;
}

export interface DesiredActionState {
  name: string;
  /** fingerprint of this build (HMAC, hex) */
  fingerprint: string;
  /** secrets that will be sent (resolved), by name */
  secretNames: string[];
  /** every secret tenant.yaml lists, including optional ones that are absent now */
  listedSecretNames: string[];
  /** tenant.yaml `deployed` (default true) */
  deployed: boolean;
}

export interface DesiredState {
  actions: DesiredActionState[];
  /** trigger id → bindings in tenant.yaml order */
  triggers: Record<string, DesiredBinding[]>;
}

export interface RemoteSecret {
  name: string;
  updated_at?: string;
}

export interface RemoteVersionRef {
  id: string;
  number?: number;
  code: string;
  created_at?: string;
}

export interface RemoteAction {
  id: string;
  name: string;
  /** draft code */
  code: string;
  secrets: RemoteSecret[];
  deployedVersion?: RemoteVersionRef;
}

export interface RemoteBinding {
  id: string;
  actionId?: string;
  actionName?: string;
  displayName?: string;
}

export interface RemoteState {
  actions: RemoteAction[];
  /** trigger id → bindings in execution order */
  bindings: Record<string, RemoteBinding[]>;
}

export interface PlanOptions {
  /** allow a PATCH to drop secrets that the tenant has and tenant.yaml does not list */
  pruneSecrets?: boolean;
  /** allow replacing a version pinned by a rollback */
  unpin?: boolean;
}

export type ActionChange =
  | { kind: "create"; name: string; deploy: boolean; reasons: string[] }
  | {
      kind: "update";
      name: string;
      id: string;
      /** PATCH the draft (code and every secret) */
      patch: boolean;
      /** deploy the draft once built */
      deploy: boolean;
      reasons: string[];
      /** remote secrets the PATCH will drop (only with `pruneSecrets`) */
      prunedSecrets: string[];
      /** secrets edited on the tenant since the deployed version */
      drift: string[];
      /** the PATCH removes a rollback pin */
      unpin: boolean;
    }
  | { kind: "unchanged"; name: string; id: string; reasons: string[] };

export type BindingSlot =
  | { kind: "existing"; bindingId: string; label: string; displayName?: string }
  | { kind: "ours"; actionName: string; displayName: string };

export interface BindingChange {
  trigger: string;
  /** labels of the current bindings, in order */
  before: string[];
  /** the whole list to PATCH, in order */
  after: BindingSlot[];
  inserted: string[];
}

export interface Refusal {
  code: "DEPLOY_UNLISTED_SECRETS" | "DEPLOY_PINNED";
  action: string;
  message: string;
  hint: string;
  /** secret names or version numbers, never values */
  details: Record<string, unknown>;
}

export interface DeployPlan {
  actions: ActionChange[];
  bindings: BindingChange[];
  refusals: Refusal[];
  notes: string[];
}

export interface CodeMarkers {
  /** code without the trailing deploy markers */
  body: string;
  fingerprint?: string;
  pin?: { number: number; versionId: string };
}

/** read the trailing fingerprint and pin comments of published code */
export function readMarkers(code: string): CodeMarkers {
  const lines = code.split("\n");
  let fingerprint: string | undefined;
  let pin: CodeMarkers["pin"];
  // strip trailing empty lines and marker lines, from the end
  let end = lines.length;
  while (end > 0) {
    const line = lines[end - 1]!;
    if (line === "") {
      end--;
      continue;
    }
    if (line.startsWith(FINGERPRINT_MARKER)) {
      fingerprint ??= line.slice(FINGERPRINT_MARKER.length).trim();
      end--;
      continue;
    }
    if (line.startsWith(PIN_MARKER)) {
      const m = /^v(\d+) (\S+)$/.exec(line.slice(PIN_MARKER.length).trim());
      if (m && pin === undefined) pin = { number: Number(m[1]), versionId: m[2]! };
      end--;
      continue;
    }
    break;
  }
  const body = lines.slice(0, end).join("\n") + (end > 0 ? "\n" : "");
  const out: CodeMarkers = { body };
  if (fingerprint !== undefined) out.fingerprint = fingerprint;
  if (pin !== undefined) out.pin = pin;
  return out;
}

/** the code to publish: the built bytes, then the fingerprint comment */
export function withFingerprint(code: string, fingerprint: string): string {
  return `${code.endsWith("\n") || code === "" ? code : `${code}\n`}${FINGERPRINT_MARKER}${fingerprint}\n`;
}

/** the draft code that records a rollback pin (the pinned version's code, then the pin) */
export function withPin(code: string, pin: { number: number; versionId: string }): string {
  const m = readMarkers(code);
  const base = m.fingerprint ? withFingerprint(m.body, m.fingerprint) : m.body;
  return `${base}${PIN_MARKER}v${pin.number} ${pin.versionId}\n`;
}

/** the draft code without its pin */
export function withoutPin(code: string): string {
  const m = readMarkers(code);
  return m.fingerprint ? withFingerprint(m.body, m.fingerprint) : m.body;
}

function isNewer(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  return Number.isFinite(ta) && Number.isFinite(tb) && ta > tb;
}

function planAction(desired: DesiredActionState, remote: RemoteAction | undefined, options: PlanOptions, refusals: Refusal[]): ActionChange {
  if (remote === undefined) {
    return { kind: "create", name: desired.name, deploy: desired.deployed, reasons: ["not on the tenant"] };
  }
  const draft = readMarkers(remote.code);
  const deployed = remote.deployedVersion;
  const deployedFp = deployed ? readMarkers(deployed.code).fingerprint : undefined;
  const reasons: string[] = [];

  const drift = deployed
    ? remote.secrets.filter((s) => isNewer(s.updated_at, deployed.created_at)).map((s) => s.name).sort()
    : [];
  for (const name of drift) {
    reasons.push(`secret "${name}" was edited on the tenant after version ${deployed?.number ?? "?"} was deployed (drift)`);
  }

  const draftDiffers = draft.fingerprint !== desired.fingerprint;
  if (draftDiffers) reasons.push(draft.fingerprint ? "draft differs from tenant.yaml" : "draft has no deploy fingerprint");
  const unpin = draft.pin !== undefined && options.unpin === true;
  const patch = draftDiffers || drift.length > 0 || unpin;

  let deploy = false;
  if (desired.deployed) {
    if (!deployed) {
      reasons.push("no deployed version");
      deploy = true;
    } else if (deployedFp !== desired.fingerprint) {
      reasons.push(`deployed version ${deployed.number ?? "?"} differs from tenant.yaml`);
      deploy = true;
    } else if (drift.length > 0) {
      deploy = true;
    }
  }

  if (!patch && !deploy) {
    const notes = ["fingerprint matches the draft and the deployed version"];
    if (draft.pin) notes.push(`pinned to version ${draft.pin.number}`);
    return { kind: "unchanged", name: desired.name, id: remote.id, reasons: notes };
  }

  if (draft.pin && !unpin) {
    refusals.push({
      code: "DEPLOY_PINNED",
      action: desired.name,
      message: `action "${desired.name}" is pinned to version ${draft.pin.number} by a rollback`,
      hint: "run the deploy with --unpin to replace the pinned version",
      details: { version: draft.pin.number },
    });
  }
  if (unpin) reasons.push(`removes the pin to version ${draft.pin?.number}`);

  const listed = new Set(desired.listedSecretNames);
  const unlisted = remote.secrets.map((s) => s.name).filter((n) => !listed.has(n)).sort();
  let prunedSecrets: string[] = [];
  if (patch && unlisted.length > 0) {
    if (options.pruneSecrets) {
      prunedSecrets = unlisted;
      reasons.push(`drops unlisted secrets ${unlisted.map((n) => `"${n}"`).join(", ")}`);
    } else {
      refusals.push({
        code: "DEPLOY_UNLISTED_SECRETS",
        action: desired.name,
        message: `action "${desired.name}" has secrets on the tenant that tenant.yaml does not list: ${unlisted.map((n) => `"${n}"`).join(", ")}`,
        hint: "a PATCH replaces every secret: list them in tenant.yaml, or run the deploy with --prune-secrets to drop them",
        details: { secrets: unlisted },
      });
    }
  }
  return { kind: "update", name: desired.name, id: remote.id, patch, deploy, reasons, prunedSecrets, drift, unpin };
}

function labelOf(b: RemoteBinding): string {
  return b.actionName ?? b.displayName ?? b.actionId ?? b.id;
}

function planBindings(trigger: string, desired: DesiredBinding[], remote: RemoteBinding[], actions: Map<string, RemoteAction>, deployable: Set<string>, notes: string[]): BindingChange | undefined {
  const after: BindingSlot[] = remote.map((b) => {
    const slot: BindingSlot = { kind: "existing", bindingId: b.id, label: labelOf(b) };
    if (b.displayName !== undefined) slot.displayName = b.displayName;
    return slot;
  });
  const inserted: string[] = [];
  const nameAt = (s: BindingSlot): string => (s.kind === "ours" ? s.actionName : s.label);
  for (const want of desired) {
    const remoteAction = actions.get(want.actionName);
    const bound = remote.some(
      (b) => b.actionName === want.actionName || (remoteAction !== undefined && b.actionId === remoteAction.id),
    );
    if (bound) continue;
    if (!deployable.has(want.actionName)) {
      notes.push(`"${want.actionName}" is not bound to "${trigger}": it is not deployed`);
      continue;
    }
    const slot: BindingSlot = { kind: "ours", actionName: want.actionName, displayName: want.displayName };
    const pos = want.position;
    let index = after.length;
    if (pos.kind === "first") index = 0;
    else if (pos.kind === "after" || pos.kind === "before") {
      const at = after.findIndex((s) => nameAt(s) === pos.actionName);
      if (at < 0) notes.push(`"${pos.actionName}" is not bound to "${trigger}": "${want.actionName}" goes last`);
      else index = pos.kind === "after" ? at + 1 : at;
    }
    after.splice(index, 0, slot);
    inserted.push(want.actionName);
  }
  if (inserted.length === 0) return undefined;
  return { trigger, before: remote.map(labelOf), after, inserted };
}

/** desired vs remote → the plan; refusals are data, the caller decides to stop */
export function planDeploy(desired: DesiredState, remote: RemoteState, options: PlanOptions = {}): DeployPlan {
  const byName = new Map(remote.actions.map((a) => [a.name, a] as const));
  const refusals: Refusal[] = [];
  const notes: string[] = [];
  const actions = desired.actions.map((d) => planAction(d, byName.get(d.name), options, refusals));
  // an action can be bound when it is deployed now or will be by this plan
  const deployable = new Set<string>();
  for (const d of desired.actions) {
    const change = actions.find((c) => c.name === d.name);
    const r = byName.get(d.name);
    if ((change && (change.kind === "create" || change.kind === "update") && change.deploy) || r?.deployedVersion) {
      deployable.add(d.name);
    }
  }
  const bindings: BindingChange[] = [];
  for (const [trigger, list] of Object.entries(desired.triggers)) {
    const change = planBindings(trigger, list, remote.bindings[trigger] ?? [], byName, deployable, notes);
    if (change) bindings.push(change);
  }
  return { actions, bindings, refusals, notes };
}

/** true when applying the plan writes nothing */
export function isNoop(plan: DeployPlan): boolean {
  return plan.bindings.length === 0 && plan.actions.every((a) => a.kind === "unchanged");
}

/** human-readable lines, exactly what apply will do */
export function formatPlan(plan: DeployPlan): string[] {
  const lines: string[] = [];
  for (const a of plan.actions) {
    if (a.kind === "create") lines.push(`create "${a.name}"${a.deploy ? " and deploy it" : ""}`);
    else if (a.kind === "update") {
      const steps = [a.patch ? "update the draft" : undefined, a.deploy ? "deploy" : undefined].filter(Boolean).join(" and ");
      lines.push(`${steps} of "${a.name}"`);
    } else lines.push(`unchanged "${a.name}"`);
    for (const r of a.reasons) lines.push(`  - ${r}`);
  }
  for (const b of plan.bindings) {
    const order = b.after.map((s) => (s.kind === "ours" ? `+${s.actionName}` : s.label)).join(", ");
    lines.push(`bind ${b.inserted.map((n) => `"${n}"`).join(", ")} to "${b.trigger}": [${order}]`);
  }
  for (const n of plan.notes) lines.push(`note: ${n}`);
  for (const r of plan.refusals) lines.push(`refused: ${r.message} (hint: ${r.hint})`);
  return lines;
}
