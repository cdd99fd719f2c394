export * from "./groups.js";
export * from "./anchor.js";
export * from "./profile.js";
