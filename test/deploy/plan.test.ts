/** Table-driven vectors for the pure deploy planner. */
import { describe, expect, it } from "vitest";
import { isNoop, planDeploy, readMarkers, withFingerprint, withPin, withoutPin, type DesiredState, type RemoteAction, type RemoteState } from "../../src/deploy/plan.js";

const FP = "a".repeat(64);
const OLD = "b".repeat(64);
const code = (fp: string) => withFingerprint("exports.onExecutePostLogin = async () => {};\n", fp);

function desired(over: Partial<DesiredState["actions"][0]> = {}, triggers: DesiredState["triggers"] = {}): DesiredState {
  return { actions: [{ name: "cp", fingerprint: FP, secretNames: ["K"], listedSecretNames: ["K", "K_NEXT"], deployed: true, ...over }], triggers };
}
function remoteAction(over: Partial<RemoteAction> = {}): RemoteAction {
  return {
    id: "act_1",
    name: "cp",
    code: code(FP),
    secrets: [{ name: "K", updated_at: "2026-01-01T00:00:00Z" }],
    deployedVersion: { id: "ver_1", number: 1, code: code(FP), created_at: "2026-01-01T00:00:05Z" },
    ...over,
  };
}
const remote = (a: RemoteAction[] = [remoteAction()], bindings: RemoteState["bindings"] = {}): RemoteState => ({ actions: a, bindings });

describe("per action: create | update | unchanged", () => {
  const cases: { name: string; remote: RemoteState; desired?: DesiredState; opts?: { pruneSecrets?: boolean; unpin?: boolean }; expect: Record<string, unknown> }[] = [
    { name: "absent on the tenant → create and deploy", remote: remote([]), expect: { kind: "create", deploy: true } },
    { name: "absent, deployed: false → create only", remote: remote([]), desired: desired({ deployed: false }), expect: { kind: "create", deploy: false } },
    { name: "same fingerprint in draft and deployed version → unchanged", remote: remote(), expect: { kind: "unchanged" } },
    { name: "new fingerprint → patch and deploy", remote: remote([remoteAction({ code: code(OLD), deployedVersion: { id: "v", number: 1, code: code(OLD), created_at: "2026-01-01T00:00:05Z" } })]), expect: { kind: "update", patch: true, deploy: true } },
    { name: "draft already patched (earlier run stopped before deploy) → deploy only", remote: remote([remoteAction({ deployedVersion: { id: "v", number: 1, code: code(OLD), created_at: "2026-01-01T00:00:05Z" } })]), expect: { kind: "update", patch: false, deploy: true } },
    { name: "draft edited in the dashboard, deployed version matches → patch only", remote: remote([remoteAction({ code: "edited" })]), expect: { kind: "update", patch: true, deploy: false } },
    { name: "never deployed → deploy", remote: remote([remoteAction({ deployedVersion: undefined })]), expect: { kind: "update", patch: false, deploy: true } },
    { name: "secret edited after the deployed version → drift: patch and deploy", remote: remote([remoteAction({ secrets: [{ name: "K", updated_at: "2026-01-02T00:00:00Z" }] })]), expect: { kind: "update", patch: true, deploy: true, drift: ["K"] } },
    { name: "unlisted secret with nothing to write → unchanged, nothing dropped", remote: remote([remoteAction({ secrets: [{ name: "K", updated_at: "2026-01-01T00:00:00Z" }, { name: "X", updated_at: "2026-01-01T00:00:00Z" }] })]), expect: { kind: "unchanged" } },
    { name: "optional listed secret on the tenant, absent now → dropped without refusal", remote: remote([remoteAction({ code: code(OLD), secrets: [{ name: "K" }, { name: "K_NEXT" }] })]), expect: { kind: "update", patch: true, prunedSecrets: [] } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planDeploy(c.desired ?? desired(), c.remote, c.opts);
      expect(plan.actions[0]).toMatchObject(c.expect);
      expect(plan.refusals).toEqual([]);
      expect(isNoop(plan)).toBe(c.expect.kind === "unchanged");
    });
  }
});

describe("refusals", () => {
  const stray = remoteAction({ code: code(OLD), secrets: [{ name: "K" }, { name: "STRAY" }] });
  it("an unlisted remote secret refuses a PATCH (it would be dropped)", () => {
    const plan = planDeploy(desired(), remote([stray]));
    expect(plan.refusals).toMatchObject([{ code: "DEPLOY_UNLISTED_SECRETS", details: { secrets: ["STRAY"] } }]);
  });
  it("--prune-secrets lets it go and says so", () => {
    const plan = planDeploy(desired(), remote([stray]), { pruneSecrets: true });
    expect(plan.refusals).toEqual([]);
    expect(plan.actions[0]).toMatchObject({ kind: "update", prunedSecrets: ["STRAY"] });
  });
  const pinned = remoteAction({ code: withPin(code(OLD), { number: 3, versionId: "ver_3" }), deployedVersion: { id: "ver_3", number: 3, code: code(OLD), created_at: "2026-01-01T00:00:05Z" } });
  it("a pinned version refuses a change", () => {
    expect(planDeploy(desired(), remote([pinned])).refusals).toMatchObject([{ code: "DEPLOY_PINNED", details: { version: 3 } }]);
  });
  it("--unpin replaces it", () => {
    const plan = planDeploy(desired(), remote([pinned]), { unpin: true });
    expect(plan.refusals).toEqual([]);
    expect(plan.actions[0]).toMatchObject({ kind: "update", patch: true, deploy: true, unpin: true });
  });
  it("a pinned version that already matches is left alone", () => {
    const same = remoteAction({ code: withPin(code(FP), { number: 3, versionId: "ver_3" }) });
    const plan = planDeploy(desired(), remote([same]));
    expect(plan.refusals).toEqual([]);
    expect(plan.actions[0]).toMatchObject({ kind: "unchanged", reasons: expect.arrayContaining(["pinned to version 3"]) });
  });
});

describe("bindings: whole list, others kept in order, position on first bind", () => {
  const others = [
    { id: "b1", actionId: "x1", actionName: "mfa" },
    { id: "b2", actionId: "x2", actionName: "risk" },
  ];
  const order = (position: DesiredState["triggers"][string][0]["position"]) => {
    const plan = planDeploy(desired({}, { "post-login": [{ actionName: "cp", displayName: "CP", position }] }), remote([remoteAction()], { "post-login": others }));
    return plan.bindings[0]?.after.map((s) => (s.kind === "ours" ? `+${s.actionName}` : s.label));
  };
  it.each([
    [{ kind: "last" } as const, ["mfa", "risk", "+cp"]],
    [{ kind: "first" } as const, ["+cp", "mfa", "risk"]],
    [{ kind: "after", actionName: "mfa" } as const, ["mfa", "+cp", "risk"]],
    [{ kind: "before", actionName: "risk" } as const, ["mfa", "+cp", "risk"]],
    [{ kind: "after", actionName: "gone" } as const, ["mfa", "risk", "+cp"]],
  ])("position %j → %j", (position, expected) => {
    expect(order(position)).toEqual(expected);
  });
  it("already bound anywhere → no binding change", () => {
    const plan = planDeploy(desired({}, { "post-login": [{ actionName: "cp", displayName: "CP", position: { kind: "first" } }] }), remote([remoteAction()], { "post-login": [...others, { id: "b3", actionId: "act_1", actionName: "cp" }] }));
    expect(plan.bindings).toEqual([]);
  });
  it("an action that is not deployed is not bound", () => {
    const plan = planDeploy(desired({ deployed: false }, { "post-login": [{ actionName: "cp", displayName: "CP", position: { kind: "last" } }] }), remote([], { "post-login": others }));
    expect(plan.bindings).toEqual([]);
    expect(plan.notes.join("\n")).toContain('"cp" is not bound to "post-login"');
  });
});

describe("code markers", () => {
  it("fingerprint and pin round-trip, the built bytes stay intact", () => {
    const body = "exports.a = 1;\n";
    const pinned = withPin(withFingerprint(body, FP), { number: 7, versionId: "ver_7" });
    expect(readMarkers(pinned)).toEqual({ body, fingerprint: FP, pin: { number: 7, versionId: "ver_7" } });
    expect(withoutPin(pinned)).toBe(withFingerprint(body, FP));
    expect(withFingerprint(body, FP).startsWith(body)).toBe(true);
  });
});
