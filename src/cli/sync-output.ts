/**
 * Human output of the sync CLI: the plan as a table (what `--dry-run` prints) and the
 * run summary. Ids and userNames only, never a secret.
 */
import type { SyncOperation, SyncPlan } from "../sync/plan-types.js";
import type { SyncSummary } from "../sync/run.js";
import { table } from "./output.js";

function subject(op: SyncOperation): string {
  switch (op.op) {
    case "createUser":
      return `${op.user.userName} (externalId "${op.externalId}")`;
    case "addMembers":
      return `"${op.groupName}" + ${op.members.map((m) => ("scimId" in m ? m.scimId : `externalId:${m.externalId}`)).join(", ")}`;
    case "removeMembers":
      return `"${op.groupName}" - ${op.scimIds.join(", ")} (${op.reason})`;
    default:
      return `${op.scimId} (externalId "${op.externalId}")`;
  }
}

function detail(op: SyncOperation): string {
  if (op.op === "adoptUser" || op.op === "updateUser") {
    return op.patch.map((p) => `${p.op} ${p.path ?? ""}`.trim()).join(", ");
  }
  return "";
}

export function formatPlan(plan: SyncPlan): string {
  const lines: string[] = [`plan for target "${plan.target}": ${plan.operations.length} operation(s)`];
  if (plan.operations.length > 0) {
    lines.push(table([["#", "operation", "subject", "detail"], ...plan.operations.map((op, i) => [String(i + 1), op.op, subject(op), detail(op)])]));
  }
  const r = plan.report;
  if (r.conflicts.length > 0) lines.push(`conflicts (not touched): ${r.conflicts.map((c) => `${c.userName} (${c.reason})`).join(", ")}`);
  if (r.unmanagedMembers.length > 0) lines.push(`members not granted by this project (kept): ${r.unmanagedMembers.length}`);
  if (r.leftToLogin.length > 0) lines.push(`left to login lifecycle: ${r.leftToLogin.length}`);
  if (r.pendingDeletes.length > 0) lines.push(`deactivated, waiting for the grace period: ${r.pendingDeletes.length}`);
  for (const g of plan.guards.filter((x) => x.tripped)) {
    lines.push(`guard "${g.guard}"${g.group ? ` on "${g.group}"` : ""} trips: ${g.count} over the limit ${g.limit}`);
  }
  return lines.join("\n");
}

export function formatSummary(s: SyncSummary): string {
  const verb = s.dryRun ? "would be" : "";
  const parts = [
    `created ${s.created}`,
    `adopted ${s.adopted}`,
    `updated ${s.updated}`,
    `reactivated ${s.reactivated}`,
    `memberships added ${s.membershipsAdded}`,
    `memberships removed ${s.membershipsRemoved}`,
    `deactivated ${s.deactivated}`,
    `deleted ${s.deleted}`,
    `failed ${s.failed}`,
    `skipped ${s.skipped}`,
    `skipped by guards ${s.skippedByGuards}`,
  ];
  return `${s.dryRun ? "dry run" : "sync"} (${s.mode}, ${s.targets.map((t) => `"${t}"`).join(", ")})${verb ? ` ${verb}` : ""}: ${parts.join(", ")} in ${(s.durationMs / 1000).toFixed(1)} s`;
}
