/**
 * The local Post-Login runtime for the built Action bundle.
 */
export { ActionHarness, EXECUTION_LIMIT_MS, PERSISTED_LOG_CHARS } from "./harness.js";
export type { ApiCall, ApiCallName, HarnessEvent, HarnessOptions, HarnessTimers, RunResult, StoredUser } from "./harness.js";
export { TriggerCache, CACHE_MAX_ENTRIES, CACHE_MAX_KEY_BYTES, CACHE_MAX_VALUE_BYTES, CACHE_MAX_TOTAL_BYTES, CACHE_DEFAULT_TTL_MS, CACHE_MAX_TTL_MS } from "./cache.js";
export type { CacheErrorCode, Clock, HarnessCacheRecord, HarnessCacheSetResult, HarnessCacheDeleteResult } from "./cache.js";
export { recordingFetch, type RecordedRequest, type RecordingFetch } from "./recording-fetch.js";
