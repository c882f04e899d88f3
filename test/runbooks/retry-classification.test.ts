/**
 * Retries are classified by the AWS SDK's own classification (`@smithy/core/retry`), not by a
 * list of ours: whatever the SDK calls throttling, transient or a server error is retried, and
 * nothing else is, except the reset shapes the SDK does not know (undici's socket error, a socket
 * hung up). The kind only labels the retry.
 */
import test from "ava";
import { isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry";
import { transientKind } from "../../runbooks/lib/retry.ts";

const sdk = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(name), { name, $metadata: status ? { httpStatusCode: status } : {}, ...extra });

const SAMPLES = [
  sdk("ThrottlingException", 400),
  sdk("SlowDown", 503),
  sdk("Whatever", 429),
  sdk("ServiceUnavailable", 503),
  sdk("InternalFailure", 500),
  sdk("NotImplemented", 501),
  sdk("RequestTimeout", 400),
  sdk("SomeError", 400, { $retryable: {} }),
  sdk("SignatureDoesNotMatch", 403, { $metadata: { httpStatusCode: 403, clockSkewCorrected: true } }),
  Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
  Object.assign(new Error("getaddrinfo EAI_AGAIN"), { code: "EAI_AGAIN" }),
  sdk("AccessDeniedException", 400),
  sdk("ValidationError", 400),
  sdk("DBInstanceAlreadyExists", 400),
  sdk("InvalidParameterValue", 400),
];

test("what the SDK retries is retried and what it does not is not", (t) => {
  for (const e of SAMPLES) {
    const sdkSays = isThrottlingError(e as never) || isTransientError(e as never) || isServerError(e as never);
    t.is(transientKind(e) !== undefined, sdkSays, `${e.name}: the SDK says ${sdkSays ? "retry" : "do not retry"}`);
  }
});

test("the kind labels the retry: throttling before anything, timeouts, network errors, server errors", (t) => {
  t.is(transientKind(sdk("SlowDown", 503)), "throttling");
  t.is(transientKind(sdk("NotImplemented", 501)), "server error");
  t.is(transientKind(sdk("RequestTimeout", 400)), "timeout");
  t.is(transientKind(Object.assign(new Error("getaddrinfo EAI_AGAIN"), { code: "EAI_AGAIN" })), "network error");
  t.is(
    transientKind(sdk("SignatureDoesNotMatch", 403, { $metadata: { clockSkewCorrected: true } })),
    "server error",
    "the SDK corrected its clock skew: sent again",
  );
});

test("reset shapes the SDK does not know are retried too; an abort never is", (t) => {
  const undici = Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" });
  t.false(isTransientError(undici as never), "the SDK does not classify it");
  t.is(transientKind(undici), "network error");
  t.is(transientKind(new Error("socket hang up")), "network error");
  t.is(transientKind(new Error("fetch failed", { cause: undici })), "network error", "looked for in the cause");
  t.is(transientKind(Object.assign(new Error("aborted"), { name: "AbortError", code: "ECONNRESET" })), undefined);
  t.is(transientKind("a string"), undefined);
});
