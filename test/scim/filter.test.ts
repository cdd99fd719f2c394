import { describe, expect, it } from "vitest";
import { and, compare, encodeFilter, eq, not, or, pr, valuePath } from "../../src/scim/filter.js";

/**
 * A small lexer following the RFC 7644 §3.4.2.2 ABNF for what the builders emit: attribute
 * paths, operators, JSON string literals, brackets and parentheses. It proves the filter text
 * has the structure we meant, whatever the value contains.
 */
function tokens(filter: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < filter.length) {
    const c = filter[i]!;
    if (c === " ") {
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < filter.length && filter[j] !== '"') j += filter[j] === "\\" ? 2 : 1;
      if (j >= filter.length) throw new Error("unterminated string");
      out.push(JSON.stringify(JSON.parse(filter.slice(i, j + 1))));
      i = j + 1;
    } else if ("()[]".includes(c)) {
      out.push(c);
      i++;
    } else {
      let j = i;
      while (j < filter.length && !' ()[]"'.includes(filter[j]!)) j++;
      out.push(filter.slice(i, j));
      i = j;
    }
  }
  return out;
}

function stringValue(token: string): string {
  return JSON.parse(token) as string;
}

/** deterministic pseudo-random strings rich in the characters that break naive filters */
function* samples(n: number): Generator<string> {
  const alphabet = ['"', "\\", ")", "(", "]", "[", " or ", " and ", " eq ", "'", "\u00e9", "\u4e2d", "\ud83d\ude00", "\n", "\t", "\u0000", "%", "&", "+", "=", "#", "a", "Z", "1", " "];
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let k = 0; k < n; k++) {
    const len = Math.floor(rand() * 12);
    let s = "";
    for (let m = 0; m < len; m++) s += alphabet[Math.floor(rand() * alphabet.length)];
    yield s;
  }
}

describe("RFC 7644 §3.4.2.2 filtering: vectors", () => {
  it.each([
    [eq("userName", "bjensen"), 'userName eq "bjensen"'],
    [compare("name.familyName", "co", "O'Malley"), `name.familyName co "O'Malley"`],
    [compare("userName", "sw", "J"), 'userName sw "J"'],
    [compare("urn:ietf:params:scim:schemas:core:2.0:User:userName", "sw", "J"), 'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"'],
    [pr("title"), "title pr"],
    [compare("meta.lastModified", "gt", "2011-05-13T04:42:34Z"), 'meta.lastModified gt "2011-05-13T04:42:34Z"'],
    [and(eq("title", "Manager"), pr("userType")), 'title eq "Manager" and userType pr'],
    [or(eq("title", "Manager"), pr("userType")), 'title eq "Manager" or userType pr'],
    [and(eq("userType", "Employee"), or(compare("emails", "co", "example.com"), compare("emails.value", "co", "example.org"))),
      'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")'],
    [not(eq("userType", "Intern")), 'not (userType eq "Intern")'],
    [valuePath("members", eq("value", "2819c223")), 'members[value eq "2819c223"]'],
    [eq("active", true), "active eq true"],
    [eq("x", null), "x eq null"],
    [eq("n", 12.5), "n eq 12.5"],
    [eq("userName", 'we"ird\\name'), 'userName eq "we\\"ird\\\\name"'],
  ])("%s", (f, text) => {
    expect(String(f)).toBe(text);
  });

  it("rejects attribute paths that could inject syntax (caller misuse)", () => {
    for (const bad of ["user Name", 'userName"', "a)or(b", "", "members[value"]) expect(() => eq(bad, "x")).toThrow(TypeError);
    expect(() => compare("userName", "xx" as "eq", "x")).toThrow(TypeError);
    expect(() => eq("n", Number.NaN)).toThrow(TypeError);
  });

  it("URL-encodes the whole filter", () => {
    expect(encodeFilter(eq("userName", "a&b=c d+e"))).toBe("userName%20eq%20%22a%26b%3Dc%20d%2Be%22");
    expect(decodeURIComponent(encodeFilter(eq("userName", "100% \u00e9")))).toBe('userName eq "100% \u00e9"');
  });
});

describe("RFC 7644 §3.4.2.2 filtering: properties", () => {
  it("any string value stays one compValue token and round-trips", () => {
    let n = 0;
    for (const v of samples(500)) {
      const t = tokens(eq("userName", v).text);
      expect(t).toHaveLength(3);
      expect(t[0]).toBe("userName");
      expect(t[1]).toBe("eq");
      expect(stringValue(t[2]!)).toBe(v);
      n++;
    }
    expect(n).toBe(500);
  });

  it("`or` of hostile values has exactly the intended structure", () => {
    const values = [...samples(200)];
    for (let k = 0; k + 1 < values.length; k += 2) {
      const t = tokens(or(eq("userName", values[k]!), eq("externalId", values[k + 1]!)).text);
      expect(t.filter((x) => x === "or")).toHaveLength(1);
      expect(t).toHaveLength(7);
      expect(stringValue(t[2]!)).toBe(values[k]);
      expect(stringValue(t[6]!)).toBe(values[k + 1]);
    }
  });

  it("a valuePath with a hostile value keeps its brackets balanced", () => {
    for (const v of samples(200)) {
      const t = tokens(valuePath("members", eq("value", v)).text);
      expect(t).toEqual(["members", "[", "value", "eq", JSON.stringify(v), "]"]);
    }
  });

  it("URL encoding round-trips", () => {
    for (const v of samples(200)) {
      const f = eq("userName", v);
      expect(decodeURIComponent(encodeFilter(f))).toBe(f.text);
      expect(encodeFilter(f)).not.toMatch(/[ "&#+=%]{1}(?![0-9A-F]{2})/);
    }
  });
});
